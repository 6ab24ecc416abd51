"""Video out of the rolling buffer, as the API needs it: the buffer's protocol (`ports`),
clip assembly with its bounded slots and cache (`clips`), and HLS playlists (`hls`).

No HTTP here (the routes are `api.http.routes.video`) and no segmenter import: the segmenter
satisfies `ports.CameraBuffer` structurally and only the wiring (`api.app`) builds it.
"""
