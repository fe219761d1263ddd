# Installs one systemd unit (install time, from install.cmake): the unit in
# the tree runs /usr/bin/PROGRAM and points to /usr/share/doc/vduse-netblk,
# the paths of the Debian package; here they become those of this
# installation (CMAKE_INSTALL_PREFIX as cmake --install or cpack set it).
# unitdir, bindir and docdir (the parent of each package's documentation,
# share/doc) are relative to the prefix.
function(netblk_install_unit src unitdir bindir docdir)
  get_filename_component(name "${src}" NAME)
  file(READ "${src}" text)
  string(REPLACE "/usr/bin/" "${CMAKE_INSTALL_PREFIX}/${bindir}/" text "${text}")
  string(REPLACE "/usr/share/doc/" "${CMAKE_INSTALL_PREFIX}/${docdir}/" text "${text}")
  set(dest "$ENV{DESTDIR}${CMAKE_INSTALL_PREFIX}/${unitdir}")
  file(MAKE_DIRECTORY "${dest}")
  file(WRITE "${dest}/${name}" "${text}")
  file(CHMOD "${dest}/${name}" PERMISSIONS OWNER_READ OWNER_WRITE GROUP_READ WORLD_READ)
  message(STATUS "Installing: ${dest}/${name}")
endfunction()
