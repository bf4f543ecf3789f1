"""Units of the analysis timeline. Every derived value is computed, never retyped."""

SAMPLE_RATE = 16_000  # Hz: all audio is resampled to 16 kHz mono float32
VIDEO_FPS = 25  # frames/s: the analysis timeline every video is placed on
AUDIO_SAMPLES_PER_FRAME = SAMPLE_RATE // VIDEO_FPS  # 640 samples = one 40 ms video frame
FRAME_MS = 1000 // VIDEO_FPS  # 40 ms

MEL_HOP = 160  # samples: 10 ms hop -> 100 feature frames/s
MEL_WIN = 400  # samples: 25 ms analysis window
N_FFT = 512
N_MELS = 80
MEL_FPS = SAMPLE_RATE // MEL_HOP  # 100 feature frames/s
MEL_FRAMES_PER_VIDEO_FRAME = MEL_FPS // VIDEO_FPS  # 4

SPEECH_BAND_HZ = (300.0, 3_000.0)  # band of the speech envelope used by the lip-sync check

# Training-free lip-sync check
SYNC_WINDOW_FRAMES = 2 * VIDEO_FPS  # 50 frames = 2 s
SYNC_HOP_S = 0.5  # window hop in seconds (window k starts at round(k * 12.5) frames)
SYNC_MAX_LAG_FRAMES = 15  # +-15 frames = +-600 ms searched
SYNC_MIN_SPEECH_FRACTION = 0.3  # a window needs this much speech to be judged
SYNC_WINDOW_MIN_FACE_COVERAGE = 0.8  # a window is judged when a face is tracked in this share of its frames
# lip sync applies to a clip at all when a face is tracked in this share of its speech frames
SYNC_CLIP_MIN_SPEECH_FACE_COVERAGE = 0.5
# a shift of the audio realigns a doubted lip-sync window only if the pair is then more likely in
# sync than not (calibrated p_sync); below this the audio is other speech, not late speech
REALIGNED_MIN_P_SYNC = 0.5
# lip sync needs this many measured video frames per second (mouth shapes of 60-120 ms syllables)
MIN_LIPSYNC_FPS = 15.0
