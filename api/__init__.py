"""The server's HTTP face: auth, routes, the relay's callbacks, and the wiring."""
