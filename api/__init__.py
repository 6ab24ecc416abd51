"""The server: the HTTP face (`http/`), video out of the buffer (`video/`), the event domain
(`events/`), people and their credentials (`accounts/`), push (`push/`), storage (`store/`)
and the relay (`relay/`); `app.py` wires them.
"""
