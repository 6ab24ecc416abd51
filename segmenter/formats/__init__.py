"""Container formats, byte by byte: what the segmenter reads and writes inside the files.

- `mpegts`: just enough MPEG-TS to see a segment's streams and whether it starts on a keyframe.
- `tsindex`, `samples`: a segment's H.264 access units found once at ingest (numpy), packed
  as its sample index (the sidecar carries it).
- `h264`: SPS/PPS for an MP4 sample entry (picture size, avcC).
- `mp4write`, `mp4concat`: a faststart MP4 built from sample indexes, its moov with numpy and
  its samples cut out of the .ts files.
- `faststart`: serving a moov-last MP4 (PyAV's remux) moov-first without rewriting it.
- `arrays`: the numpy array types they share.

Plain blocking functions over bytes and files: no asyncio, no clock, no state between calls.
The rest of `segmenter/` runs them in worker threads (`mp4concat` uses one helper thread of its
own). They import only each other and the package's leaves (`errors`, `model`, `timing`).
"""
