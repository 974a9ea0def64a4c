"""Plane geometry of keypoint matches: pictures' outlines, transforms, hulls.

Helpers of ``fingerprint.local_verify``, which judges whether two pictures' keypoints agree on
one transform and cover enough of the picture; these only compute.
"""

from __future__ import annotations

import cv2
import numpy as np


def corners(size: np.ndarray) -> np.ndarray:
    width, height = size
    return np.array([[0, 0], [width, 0], [width, height], [0, height]], dtype=np.float64)


def project(matrix: np.ndarray, points: np.ndarray) -> np.ndarray | None:
    """``points`` through a 3x3 transform; None if any lands behind the camera."""
    homogeneous = np.hstack([points, np.ones((len(points), 1))]) @ matrix.T
    if (homogeneous[:, 2] <= 1e-9).any():
        return None
    return homogeneous[:, :2] / homogeneous[:, 2:]


def hull_area(points: np.ndarray) -> float:
    if len(points) < 3:
        return 0.0
    return float(cv2.contourArea(cv2.convexHull(points.astype(np.float32))))


def inside(polygon: np.ndarray, points: np.ndarray, margin: float = 0.0) -> np.ndarray:
    """Which ``points`` lie in a convex ``polygon`` (either winding), at least ``margin``
    pixels from its edges: no edge has them outside, or closer."""
    edges = np.roll(polygon, -1, axis=0) - polygon
    length = np.maximum(np.linalg.norm(edges, axis=1), 1e-9)
    to_points = points[:, None, :] - polygon[None, :, :]
    cross = edges[None, :, 0] * to_points[:, :, 1] - edges[None, :, 1] * to_points[:, :, 0]
    away = cross / length[None, :]  # signed distance to each edge's line
    limit = margin - 1e-6
    return (away >= limit).all(axis=1) | (away <= -limit).all(axis=1)
