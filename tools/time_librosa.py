"""Times librosa on the inputs of `cargo bench --bench kernels` (audio part), for the
side-by-side table in docs/performance.md.

Command (pinned environment: tools/reference/requirements.txt), one core:
    OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 MKL_NUM_THREADS=1 python3 tools/time_librosa.py
Prints the median wall time of each operation over 200 runs (after 20 warm-up runs).
"""
import time

import librosa
import numpy as np


def noise(n, seed):
    """Same LCG as benches/kernels/audio.rs (values need not match bit for bit; timing only)."""
    rng = np.random.default_rng(seed)
    return (rng.random(n, dtype=np.float32) - 0.5) * 0.2


def median_ms(fn, runs=200, warmup=20):
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return 1e3 * float(np.median(times))


def main():
    clip = noise(5 * 22_050, 1)
    sop = noise(65_535, 2)

    def logmel():
        s = librosa.feature.melspectrogram(y=clip, sr=22_050, n_fft=882, hop_length=441, n_mels=64,
                                           pad_mode="reflect")
        return np.log(s + np.spacing(1)).T

    spec = librosa.stft(sop, n_fft=1022, hop_length=256, pad_mode="reflect")
    rows = [
        ("log-mel, 5 s (paper)", logmel),
        ("STFT 1022/256, 65 535 samples", lambda: librosa.stft(sop, n_fft=1022, hop_length=256, pad_mode="reflect")),
        ("iSTFT 1022/256, 256 frames", lambda: librosa.istft(spec, n_fft=1022, hop_length=256)),
    ]
    print(f"librosa {librosa.__version__}, numpy {np.__version__}")
    for name, fn in rows:
        print(f"{name}: {median_ms(fn):.3f} ms")


if __name__ == "__main__":
    main()
