// Package apache holds nanobanana's .htaccess for shared hosts that put Apache in front
// (Beget-style: SSH, cron, no root, no systemd) and the tests that run it through a real
// Apache 2.4 as such a host would. It has no code the program uses: the file is for
// customers to upload, and the package exists so its tests live beside it.
package apache
