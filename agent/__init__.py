"""The doorbell agent that runs on the Pi (and, with the test source, anywhere)."""
