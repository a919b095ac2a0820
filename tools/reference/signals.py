"""Deterministic test signals shared by the fixture generators and timing scripts.

The Rust tests regenerate exactly the same signals (crates/av-audio/tests/common/signals.rs),
so the fixtures only store reference outputs. Every signal is computed in float64 and rounded
to float32 once, in both languages.
"""
import numpy as np

SR = 22_050
MASK64 = (1 << 64) - 1


def xorshift_uniform(n: int, seed: int) -> np.ndarray:
    """n uniforms in [0, 1) from xorshift64* (53-bit mantissa), identical to the Rust twin."""
    state = seed & MASK64
    if state == 0:
        state = 0x9E3779B97F4A7C15
    out = np.empty(n, dtype=np.float64)
    for i in range(n):
        state ^= state >> 12
        state ^= (state << 25) & MASK64
        state ^= state >> 27
        v = (state * 0x2545F4914F6CDD1D) & MASK64
        out[i] = (v >> 11) / float(1 << 53)
    return out


def chirp(n: int, sr: int = SR, f0: float = 50.0, f1: float = 8000.0, amp: float = 0.5) -> np.ndarray:
    """Linear chirp from f0 to f1 Hz over n samples."""
    t = np.arange(n, dtype=np.float64) / sr
    dur = n / sr
    phase = 2.0 * np.pi * (f0 * t + (f1 - f0) / (2.0 * dur) * t * t)
    return (amp * np.sin(phase)).astype(np.float32)


def noise(n: int, seed: int, amp: float = 0.2) -> np.ndarray:
    """Uniform white noise in [-amp/2, amp/2)."""
    return ((xorshift_uniform(n, seed) - 0.5) * amp).astype(np.float32)


def tones(n: int, sr: int = SR) -> np.ndarray:
    """440 Hz + 3 kHz tones under a slow envelope: a tonal signal with quiet bands."""
    t = np.arange(n, dtype=np.float64) / sr
    env = 0.5 * (1.0 - np.cos(2.0 * np.pi * np.arange(n, dtype=np.float64) / n))
    x = env * (0.6 * np.sin(2 * np.pi * 440.0 * t) + 0.2 * np.sin(2 * np.pi * 3000.0 * t))
    return x.astype(np.float32)


def warp_input(rows: int, cols: int) -> np.ndarray:
    """A smooth positive 'spectrogram' for the warp fixtures."""
    r = np.arange(rows, dtype=np.float64)[:, None]
    c = np.arange(cols, dtype=np.float64)[None, :]
    return (np.abs(np.sin(r * 0.037 + c * 1.3)) + r / rows).astype(np.float32)


def signal(name: str) -> np.ndarray:
    """The named test signals."""
    five_s = 5 * SR
    return {
        "chirp5s": lambda: chirp(five_s),
        "noise5s": lambda: noise(five_s, seed=1),
        "silence5s": lambda: np.zeros(five_s, dtype=np.float32),
        "tones_odd": lambda: tones(33_333),
        "noise_short": lambda: noise(500, seed=2),
        "quiet_chirp": lambda: (chirp(five_s) * np.float32(1e-4)).astype(np.float32),
        "mix8000": lambda: (tones(8000) + noise(8000, seed=3)).astype(np.float32),
    }[name]()
