"""Developer tools run from the command line (`doorbell demo`); the server never imports them."""
