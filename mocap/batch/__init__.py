"""Batch processing: many videos on every core (mocap.batch.runner), one long video in
parallel time chunks (mocap.batch.chunked), and the same jobs on a Ray cluster
(mocap.batch.ray_executor). See docs/batch.md.

Importing this package is light: workers, rich and Ray are imported where used.
"""
