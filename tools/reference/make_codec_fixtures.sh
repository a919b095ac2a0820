#!/usr/bin/env bash
# Writes the tiny encoded test files of av-audio's decoder tests (our own synthetic tones, so
# no licence question): 0.5 s, 44.1 kHz, stereo, 440 Hz left / 660 Hz right, amplitude 0.5.
# Needs Debian's ffmpeg (apt-get install ffmpeg). Command, from the repository root:
#     bash tools/reference/make_codec_fixtures.sh
set -euo pipefail
out=crates/av-audio/tests/fixtures/codecs
mkdir -p "$out"
src="sine=frequency=440:sample_rate=44100:duration=0.5"
src2="sine=frequency=660:sample_rate=44100:duration=0.5"
gen() { ffmpeg -hide_banner -loglevel error -y -f lavfi -i "$src" -f lavfi -i "$src2" \
  -filter_complex "[0:a][1:a]amerge=inputs=2,volume=0.5[a]" -map "[a]" "$@"; }
gen -c:a flac "$out/tone.flac"
gen -c:a libvorbis -q:a 4 "$out/tone.ogg"
gen -c:a libmp3lame -b:a 96k "$out/tone.mp3"
gen -c:a aac -b:a 96k "$out/tone.m4a"
# A file with an audio codec symphonia does not decode (Opus in Ogg).
gen -c:a libopus -b:a 48k "$out/tone_opus.ogg"
ls -l "$out"
