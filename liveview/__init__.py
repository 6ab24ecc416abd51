"""The WebRTC live view's media worker: a process of its own, run and spoken to by the API.

One GStreamer pipeline per watched camera pulls the camera's H.264 from the relay (never
decoded); one `webrtcbin` per viewer packetizes it to RTP and sends it, encrypted, to the
browser. The API does the signalling (WHEP, authentication, caps) and talks to this process
over its stdin and stdout in JSON lines (`liveview.protocol`).
"""
