"""The nginx-rtmp relay: its config rendered from the settings (`conf`), the supervised
child that runs it (`process`, `ports`), and who is publishing each camera (`presence`)."""
