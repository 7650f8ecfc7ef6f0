"""Two real all-sky cameras, as the truth for calibration tests, benchmarks and the simulator.

The lens distortion of GMN UK002F (radial7-odd) and UK009M (radial5-all), at SD size, from their
RMS platepars in the shared GMN data, with pointings like the stations' own. One definition, so a
test and the benchmark that quotes its figure fit the same camera.
"""

from __future__ import annotations

from ams_actors.kernels.astrometry import CameraModel, Lens

UK002F_LENS = Lens(width=640, height=360, kind="radial-odd", x0=34.76, y0=-3.79, asym_c=-0.00926, asym_s=-0.00418,
                   k=(0.0737, -0.00367, 0.01447))
UK009M_LENS = Lens(width=640, height=360, kind="radial-all", x0=-8.7, y0=4.4, asym_c=0.0061, asym_s=-0.0032,
                   k=(-0.0213, 0.0839, -0.0321, 0.0123))

#: UK002F, looking east-north-east at 38° elevation
UK002F = CameraModel(lat=51.8831, lon=-1.30616, alt_m=80.0, az=64.97, el=38.23, roll=4.22, scale=7.851,
                     lens=UK002F_LENS)
#: UK009M's lens on a camera looking south, high
UK009M = CameraModel(lat=51.8786, lon=0.9194, alt_m=21.0, az=200.0, el=55.0, roll=-8.0, scale=7.786, lens=UK009M_LENS)
