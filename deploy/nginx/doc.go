// Package nginx holds nanobanana's nginx site (nanobanana.conf) and the tests
// that run it through a real nginx. It has no code the program uses: the
// site is a file for administrators, and the package exists so its tests,
// and the helpers that render the site for a loopback nginx, live beside it.
package nginx
