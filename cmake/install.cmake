# What `cmake --install` puts where (GNUInstallDirs), and the Debian
# packages cpack builds from it (docs/packaging.md). Included by the top
# CMakeLists.txt after every target exists.
#
# Two components, two packages, so that a client host needs no librados:
#   client  vduse-netblk: vduse-netblk, netblk-cli, their units, the
#           modules-load.d file
#   node    netblk-node: netblk-node, netblk-server-mock,
#           netblk-rados-bench (with librados), netblk-node.service
#   dkms    netblk-vduse-dkms: the kernel module's source for DKMS
# Documentation goes with both (docdir). Manual pages: docs/man/CMakeLists.txt
# installs each page with its program's component.

set(NETBLK_UNITDIR "lib/systemd/system" CACHE STRING
    "systemd units, relative to the prefix (systemd reads /usr/lib and /usr/local/lib)")
set(NETBLK_MODULESLOADDIR "lib/modules-load.d" CACHE STRING
    "modules-load.d files, relative to the prefix")

install(TARGETS vduse-netblk netblk-cli
        RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR} COMPONENT client)
if(TARGET netblk-csi)
  install(TARGETS netblk-csi
          RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR} COMPONENT client)
endif()
install(TARGETS netblk-node netblk-server-mock
        RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR} COMPONENT node)
if(TARGET netblk-rados-bench)
  install(TARGETS netblk-rados-bench
          RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR} COMPONENT node)
endif()

# Units: the tree's files name /usr/bin and /usr/share/doc/vduse-netblk;
# cmake/units.cmake rewrites them for this prefix at install time (cpack
# installs with the prefix /usr, cmake --install with CMAKE_INSTALL_PREFIX).
set(sd ${PROJECT_SOURCE_DIR}/deploy/systemd)
foreach(pair "client:vduse-netblk@.service" "client:vduse-netblk-agent.service"
             "node:netblk-node.service")
  string(REPLACE ":" ";" pair "${pair}")
  list(GET pair 0 comp)
  list(GET pair 1 unit)
  install(CODE "include(\"${PROJECT_SOURCE_DIR}/cmake/units.cmake\")
netblk_install_unit(\"${sd}/${unit}\" \"${NETBLK_UNITDIR}\" \"${CMAKE_INSTALL_BINDIR}\" \"${CMAKE_INSTALL_DATAROOTDIR}/doc\")"
          COMPONENT ${comp})
endforeach()
install(FILES ${sd}/vduse-netblk.conf DESTINATION ${NETBLK_MODULESLOADDIR}
        COMPONENT client)

# Documentation: each package its own /usr/share/doc/PACKAGE (dpkg refuses
# two packages owning one file), with the license as Debian's copyright.
set(NETBLK_NODE_DOCDIR ${CMAKE_INSTALL_DATAROOTDIR}/doc/netblk-node)
set(docs docs/architecture.md docs/protocol.md docs/troubleshooting.md
         docs/security.md docs/upgrade.md docs/sizing.md docs/packaging.md
         docs/cli.md docs/metrics.md docs/csi.md)
install(FILES README.md LICENSE ${docs} DESTINATION ${CMAKE_INSTALL_DOCDIR}
        COMPONENT client)
install(FILES LICENSE DESTINATION ${CMAKE_INSTALL_DOCDIR} RENAME copyright
        COMPONENT client)
install(FILES deploy/README.md DESTINATION ${CMAKE_INSTALL_DOCDIR}/deploy
        COMPONENT client)
install(FILES README.md LICENSE docs/node.md docs/rados.md docs/mock.md
              docs/protocol.md docs/troubleshooting.md docs/security.md
              docs/upgrade.md docs/sizing.md
        DESTINATION ${NETBLK_NODE_DOCDIR} COMPONENT node)
install(FILES LICENSE DESTINATION ${NETBLK_NODE_DOCDIR} RENAME copyright
        COMPONENT node)
install(FILES LICENSE DESTINATION ${CMAKE_INSTALL_DATAROOTDIR}/doc/netblk-vduse-dkms
        RENAME copyright COMPONENT dkms)
# Debian's changelog.gz of a native package, one per package.
string(TIMESTAMP NETBLK_CHANGELOG_DATE "%a, %d %b %Y %H:%M:%S +0000" UTC)
foreach(pkg vduse-netblk netblk-node netblk-vduse-dkms)
  configure_file(${PROJECT_SOURCE_DIR}/cmake/changelog.in
                 ${CMAKE_BINARY_DIR}/changelog/${pkg}/changelog @ONLY)
  execute_process(COMMAND gzip -9nf ${CMAKE_BINARY_DIR}/changelog/${pkg}/changelog)
endforeach()
install(FILES ${CMAKE_BINARY_DIR}/changelog/vduse-netblk/changelog.gz
        DESTINATION ${CMAKE_INSTALL_DOCDIR} COMPONENT client)
install(FILES ${CMAKE_BINARY_DIR}/changelog/netblk-node/changelog.gz
        DESTINATION ${NETBLK_NODE_DOCDIR} COMPONENT node)
install(FILES ${CMAKE_BINARY_DIR}/changelog/netblk-vduse-dkms/changelog.gz
        DESTINATION ${CMAKE_INSTALL_DATAROOTDIR}/doc/netblk-vduse-dkms COMPONENT dkms)

# The kernel module's source, built by DKMS for the running kernel.
set(kmod_files kmod/Makefile kmod/nbvd.h kmod/nbvd_main.c kmod/nbvd_dev.c
               kmod/nbvd_msg.c kmod/nbvd_vdpa.c kmod/nbvd_domain.c)
install(FILES ${kmod_files}
        DESTINATION src/netblk-vduse-${PROJECT_VERSION} COMPONENT dkms)
configure_file(${PROJECT_SOURCE_DIR}/kmod/dkms.conf.in
               ${CMAKE_BINARY_DIR}/kmod/dkms.conf @ONLY)
install(FILES ${CMAKE_BINARY_DIR}/kmod/dkms.conf
        DESTINATION src/netblk-vduse-${PROJECT_VERSION} COMPONENT dkms)

# --- Debian packages: cpack -G DEB in the build tree (docs/packaging.md).
set(CPACK_GENERATOR DEB)
set(CPACK_PACKAGE_NAME vduse-netblk)
set(CPACK_PACKAGE_VENDOR "vduse-netblk")
set(CPACK_PACKAGE_CONTACT "vduse-netblk maintainers <netblk@example.org>")
set(CPACK_PACKAGE_VERSION ${PROJECT_VERSION})
# No CPACK_PACKAGE_DESCRIPTION_SUMMARY: CPackDeb would put it before every
# component's own synopsis (the first line of its description).
set(CPACK_RESOURCE_FILE_LICENSE ${PROJECT_SOURCE_DIR}/LICENSE)
set(CPACK_PACKAGING_INSTALL_PREFIX /usr)
set(CPACK_DEB_COMPONENT_INSTALL ON)
set(CPACK_STRIP_FILES ON)
set(NETBLK_PACKAGES "client;node;dkms" CACHE STRING
    "Components cpack packages (client: vduse-netblk, node: netblk-node, dkms: netblk-vduse-dkms)")
set(CPACK_COMPONENTS_ALL ${NETBLK_PACKAGES})
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set(CPACK_DEBIAN_PACKAGE_SECTION admin)
set(CPACK_DEBIAN_PACKAGE_PRIORITY optional)
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
set(CPACK_DEBIAN_PACKAGE_GENERATE_SHLIBS OFF)
set(CPACK_DEBIAN_PACKAGE_HOMEPAGE "https://example.invalid/vduse-netblk")
set(CPACK_DEBIAN_CLIENT_PACKAGE_NAME vduse-netblk)
set(CPACK_DEBIAN_CLIENT_PACKAGE_SECTION admin)
set(CPACK_DEBIAN_CLIENT_DESCRIPTION
"remote volumes as local virtio-blk disks through VDUSE
vduse-netblk serves a volume of a netblk cluster as a virtio-blk disk
(/dev/vdX) through the kernel's VDUSE, over TLS. This package holds the
daemon and its agent, netblk-cli, their systemd units and the
modules-load.d file.")
set(CPACK_DEBIAN_CLIENT_PACKAGE_RECOMMENDS "iproute2, kmod")
set(CPACK_DEBIAN_NODE_PACKAGE_NAME netblk-node)
set(CPACK_DEBIAN_NODE_PACKAGE_SECTION net)
set(CPACK_DEBIAN_NODE_DESCRIPTION
"storage node of vduse-netblk
netblk-node serves volumes to vduse-netblk clients over TLS, from files
or a Ceph RADOS pool; netblk-server-mock is the test node with fault
injection; netblk-rados-bench measures a pool.")
set(CPACK_DEBIAN_DKMS_PACKAGE_NAME netblk-vduse-dkms)
set(CPACK_DEBIAN_DKMS_PACKAGE_ARCHITECTURE all)
set(CPACK_DEBIAN_DKMS_PACKAGE_SECTION kernel)
set(CPACK_DEBIAN_DKMS_PACKAGE_DEPENDS "dkms")
set(CPACK_DEBIAN_DKMS_DESCRIPTION
"netblk_vduse kernel module source for DKMS
An alternative to the kernel's vduse module for vduse-netblk, built by
DKMS for the installed kernels.")
set(CPACK_DEBIAN_DKMS_PACKAGE_CONTROL_EXTRA
    "${CMAKE_BINARY_DIR}/kmod/postinst;${CMAKE_BINARY_DIR}/kmod/prerm")
configure_file(${PROJECT_SOURCE_DIR}/kmod/dkms-postinst.in ${CMAKE_BINARY_DIR}/kmod/postinst @ONLY)
configure_file(${PROJECT_SOURCE_DIR}/kmod/dkms-prerm.in ${CMAKE_BINARY_DIR}/kmod/prerm @ONLY)
file(CHMOD ${CMAKE_BINARY_DIR}/kmod/postinst ${CMAKE_BINARY_DIR}/kmod/prerm
     PERMISSIONS OWNER_READ OWNER_WRITE OWNER_EXECUTE GROUP_READ GROUP_EXECUTE
                 WORLD_READ WORLD_EXECUTE)
include(CPack)
