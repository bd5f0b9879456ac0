#!/usr/bin/awk -f
# Re-aim the target stage of the shell peer jobs (scripts/bench-peers/sox.sh and ffmpeg.sh, run
# by scripts/bench-compare.sh; pedalboard_job.py does the same in Python) after a pass that
# applied gain g (dB) and limit l (dBFS) and measured loudness i (LUFS) and true peak tp (dBTP)
# against target t and ceiling c. pg/pi/pl are the previous pass's gain, loudness and limit
# (empty on the first pass): when the limit did not move, the gain step uses their slope
# (limiting makes 1 dB of gain add less than 1 LU), clamped to 0.3..1.5; otherwise 1 LU/dB.
# A true peak over the ceiling lowers the limit by the excess + 0.05 dB.
# Prints "DONE NEW_GAIN NEW_LIMIT"; DONE is 1 when within 0.1 LU and at or under the ceiling.
BEGIN {
  ok = (i - t <= 0.1 + 1e-9 && t - i <= 0.1 + 1e-9 && tp <= c)
  slope = 1
  if (pg != "" && g != pg && pl == l) {
    slope = (i - pi) / (g - pg)
    if (slope < 0.3) slope = 0.3
    if (slope > 1.5) slope = 1.5
  }
  if (tp > c) l -= tp - c + 0.05
  printf "%d %.3f %.3f\n", ok, g + (t - i) / slope, l
}
