"""Clips (videos, round video notes, GIF animations): sampling, limits, people and best frames."""

from __future__ import annotations

from collections.abc import Callable

import cv2
import numpy as np
import pytest

from recognition import (
    CorruptImage,
    DetectedFace,
    EmptyImage,
    ImageTooLarge,
    Limits,
    TooManyFrames,
    TooManyPixels,
    UnsupportedImage,
    VideoLimits,
    VideoTooLong,
)
from recognition.models import resolve_model_pack
from recognition.pipeline import FaceAnalyzer
from recognition.video import ClipAnalysis, analyze_clip, sample_frames, sniff_container
from tests.images import T1, TOM_HANKS, crop_around, read_bytes, read_image, resize, truncated
from tests.media import (
    PORTRAIT,
    audio_only_mp4,
    clip_bytes,
    gif_animation,
    heic_bytes,
    on_canvas,
    still_frames,
    with_display_matrix,
)

LIMITS = VideoLimits()
# a face in a clip against the same face in the photo it was cut from (the clip is re-encoded
# and the face moves; the single-image cosine of the same face is 1)
SAME_FACE = 0.85
OTHER_FACE = 0.3
SIDE = 320  # video notes are square


@pytest.fixture(scope="module")
def analyzer() -> FaceAnalyzer:
    return FaceAnalyzer(resolve_model_pack(None), Limits(), threads=1)


@pytest.fixture(scope="module")
def t1_faces(analyzer: FaceAnalyzer) -> list[DetectedFace]:
    return analyzer.analyze(read_bytes(T1)).faces


@pytest.fixture(scope="module")
def portraits(t1_faces: list[DetectedFace]) -> list[np.ndarray]:
    """The three largest faces of t1.jpg, each alone on a square frame."""
    t1 = read_image(T1)
    return [on_canvas(crop_around(t1, f.bbox, 0.6), SIDE, SIDE) for f in t1_faces[:3]]


@pytest.fixture(scope="module")
def one_face_clip(analyzer: FaceAnalyzer, portraits: list[np.ndarray]) -> ClipAnalysis:
    """3 s at 10 fps of one face, moving a little, as a square video note."""
    return analyze_clip(
        analyzer, clip_bytes(still_frames(portraits[0], 3, 10, drift_px=24)), LIMITS
    )


def _cos(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.dot(a, b))


# --- people and their best frames ----------------------------------------------------------------
def test_clip_of_one_face_gives_one_person_matching_the_photo(
    one_face_clip: ClipAnalysis, t1_faces: list[DetectedFace]
) -> None:
    clip = one_face_clip
    assert clip.frames_decoded == 30
    assert clip.frames_sampled == 6  # 2 a second
    assert len(clip.people) == 1 and clip.people_left_out == 0
    person = clip.people[0]
    assert person.frames == 6
    assert 1 <= person.fused <= LIMITS.best_frames
    assert _cos(person.embedding, t1_faces[0].embedding) > SAME_FACE
    assert np.linalg.norm(person.embedding) == pytest.approx(1.0, abs=1e-5)
    for other in t1_faces[1:]:
        assert _cos(person.embedding, other.embedding) < OTHER_FACE


def test_best_frame_is_returned_with_its_face(
    one_face_clip: ClipAnalysis, analyzer: FaceAnalyzer
) -> None:
    person = one_face_clip.people[0]
    assert person.best_frame.shape == (SIDE, SIDE, 3) and person.best_frame.dtype == np.uint8
    assert person.best_time_s in person.times_s
    # The face really is in that frame where the box says, and its crop is that face.
    again = analyzer.analyze_image(person.best_frame, "x").faces
    assert len(again) == 1
    np.testing.assert_allclose(again[0].bbox, person.best_face.bbox, atol=1.0)
    np.testing.assert_allclose(
        analyzer.embed_crop(person.best_face.crop), person.best_face.embedding, atol=1e-4
    )


def test_sharpest_frame_is_the_best_frame(
    analyzer: FaceAnalyzer, portraits: list[np.ndarray]
) -> None:
    # 1 s blurred, 1 s sharp, 1 s blurred: the person's best frame is from the sharp second.
    blurred = cv2.GaussianBlur(portraits[1], (0, 0), 3.0)
    frames = still_frames(blurred, 1, 10) + still_frames(portraits[1], 1, 10)
    frames += still_frames(blurred, 1, 10)
    clip = analyze_clip(analyzer, clip_bytes(frames), LIMITS)
    assert len(clip.people) == 1
    person = clip.people[0]
    assert person.frames == 6
    assert 1.0 <= person.best_time_s < 2.0
    assert person.best_face.quality.ok


def test_clip_of_two_people_in_turn_gives_two_people(
    analyzer: FaceAnalyzer, portraits: list[np.ndarray], t1_faces: list[DetectedFace]
) -> None:
    frames = still_frames(portraits[0], 2, 10, drift_px=16)
    frames += still_frames(portraits[1], 2, 10, drift_px=16)
    clip = analyze_clip(analyzer, clip_bytes(frames), LIMITS)
    assert len(clip.people) == 2
    by_face = sorted(clip.people, key=lambda p: p.times_s[0])
    for person, face in zip(by_face, t1_faces[:2], strict=True):
        assert person.frames == 4
        assert _cos(person.embedding, face.embedding) > SAME_FACE
    first, second = by_face
    assert max(first.times_s) < min(second.times_s)
    assert _cos(first.embedding, second.embedding) < OTHER_FACE


def test_two_people_side_by_side_stay_two_people(
    analyzer: FaceAnalyzer, portraits: list[np.ndarray], t1_faces: list[DetectedFace]
) -> None:
    pair = np.ascontiguousarray(np.hstack([portraits[0], portraits[2]]))
    clip = analyze_clip(analyzer, clip_bytes(still_frames(pair, 2, 10, drift_px=8)), LIMITS)
    assert len(clip.people) == 2
    for person in clip.people:
        assert person.frames == 4
        assert person.best_frame.shape == pair.shape
    matched = {
        max(range(3), key=lambda i: _cos(p.embedding, t1_faces[i].embedding)) for p in clip.people
    }
    assert matched == {0, 2}


def test_people_past_the_limit_are_counted_not_returned(
    analyzer: FaceAnalyzer, portraits: list[np.ndarray]
) -> None:
    # The third face is on screen for 1 s, the others for 2 s: it is the one left out.
    frames = still_frames(portraits[0], 2, 10) + still_frames(portraits[1], 2, 10)
    frames += still_frames(portraits[2], 1, 10)
    clip = analyze_clip(analyzer, clip_bytes(frames), VideoLimits(max_people=2))
    assert len(clip.people) == 2
    assert clip.people_left_out == 1
    assert [p.frames for p in clip.people] == [4, 4]


def test_gif_animation_gives_its_face(analyzer: FaceAnalyzer) -> None:
    hanks = on_canvas(resize(read_image(TOM_HANKS), 2.0), 256, 256)
    data = gif_animation(still_frames(hanks, 2, 10, drift_px=20), frame_ms=100)
    assert sniff_container(data) == "gif"
    clip = analyze_clip(analyzer, data, LIMITS)
    assert clip.frames_sampled == 4
    assert len(clip.people) == 1
    reference = analyzer.analyze(read_bytes(TOM_HANKS)).faces[0]
    assert _cos(clip.people[0].embedding, reference.embedding) > SAME_FACE


def test_portrait_phone_video_is_turned_upright(
    analyzer: FaceAnalyzer, portraits: list[np.ndarray], t1_faces: list[DetectedFace]
) -> None:
    upright = np.ascontiguousarray(on_canvas(portraits[0], 240, 320)[:, :, :])
    # Stored as the phone's sensor saw it (turned a quarter to the left), marked to turn back.
    stored = np.ascontiguousarray(np.rot90(upright, 1))
    data = with_display_matrix(clip_bytes(still_frames(stored, 1, 10)), PORTRAIT)
    frames = list(sample_frames(data, LIMITS))
    assert frames and frames[0].image.shape == upright.shape
    assert float(np.abs(frames[0].image.astype(int) - upright.astype(int)).mean()) < 6.0
    clip = analyze_clip(analyzer, data, LIMITS)
    assert len(clip.people) == 1
    assert _cos(clip.people[0].embedding, t1_faces[0].embedding) > SAME_FACE


# --- sampling ------------------------------------------------------------------------------------
def test_frames_are_sampled_at_the_set_rate() -> None:
    data = clip_bytes(still_frames(np.zeros((64, 64, 3), np.uint8), 3, 10))
    times = [f.time_s for f in sample_frames(data, VideoLimits(sample_fps=2.0))]
    assert times == pytest.approx([0.0, 0.5, 1.0, 1.5, 2.0, 2.5])
    times = [f.time_s for f in sample_frames(data, VideoLimits(sample_fps=5.0))]
    assert times == pytest.approx([i * 0.2 for i in range(15)])


def test_a_long_clip_is_sampled_evenly_within_the_sample_limit() -> None:
    data = clip_bytes(still_frames(np.zeros((64, 64, 3), np.uint8), 3, 10))
    times = [f.time_s for f in sample_frames(data, VideoLimits(max_samples=3))]
    assert times == pytest.approx([0.0, 1.0, 2.0])


def test_clip_without_faces_gives_no_people(analyzer: FaceAnalyzer) -> None:
    gradient = np.tile(np.linspace(0, 255, 128, dtype=np.uint8), (128, 1))
    frames = still_frames(cv2.merge([gradient] * 3), 1, 10, drift_px=30)
    clip = analyze_clip(analyzer, clip_bytes(frames), LIMITS)
    assert clip.people == [] and clip.faces_found == 0 and clip.frames_sampled == 2


# --- limits and bad input ------------------------------------------------------------------------
BLACK = np.zeros((64, 64, 3), np.uint8)


def test_clip_over_the_byte_limit_is_too_large() -> None:
    data = clip_bytes(still_frames(BLACK, 1, 10))
    with pytest.raises(ImageTooLarge) as err:
        list(sample_frames(data, VideoLimits(max_bytes=len(data) - 1)))
    assert err.value.code == "too_large"


def test_clip_declaring_too_long_a_duration_is_refused_before_decoding() -> None:
    data = clip_bytes(still_frames(BLACK, 3, 10))
    frames = sample_frames(data, VideoLimits(max_seconds=2.0))
    with pytest.raises(VideoTooLong) as err:
        next(frames)
    assert err.value.code == "too_long"


def test_streamed_clip_without_a_duration_is_stopped_once_too_long() -> None:
    data = clip_bytes(still_frames(BLACK, 3, 10), container="matroska", streamed=True)
    limits = VideoLimits(max_seconds=2.0)
    with pytest.raises(VideoTooLong):
        list(sample_frames(data, limits))
    assert len(list(sample_frames(data, VideoLimits(max_seconds=3.0)))) == 6


def test_clip_with_too_many_frames_is_refused() -> None:
    declared = clip_bytes(still_frames(BLACK, 3, 10))
    with pytest.raises(TooManyFrames) as err:
        list(sample_frames(declared, VideoLimits(max_decoded_frames=20)))
    assert err.value.code == "too_many_frames"
    streamed = clip_bytes(still_frames(BLACK, 3, 10), container="matroska", streamed=True)
    with pytest.raises(TooManyFrames):
        list(sample_frames(streamed, VideoLimits(max_decoded_frames=20)))


def test_clip_with_frames_over_the_pixel_limit_is_refused() -> None:
    data = clip_bytes(still_frames(np.zeros((240, 320, 3), np.uint8), 1, 10))
    with pytest.raises(TooManyPixels):
        list(sample_frames(data, VideoLimits(max_frame_pixels=320 * 240 - 1)))
    assert len(list(sample_frames(data, VideoLimits(max_frame_pixels=320 * 240)))) == 2


@pytest.mark.parametrize(
    "make",
    [
        lambda: read_bytes(T1),  # a JPEG photo
        lambda: heic_bytes(BLACK),  # an ISO-BMFF photo, not a clip
        lambda: b"hello, this is not a video",
        lambda: audio_only_mp4(),
        lambda: clip_bytes(still_frames(BLACK, 1, 10), container="matroska", codec="mpeg2video"),
    ],
    ids=["jpeg", "heic", "text", "audio-only", "mpeg2-codec"],
)
def test_what_is_not_a_supported_clip_is_unsupported(make: Callable[[], bytes]) -> None:
    with pytest.raises(UnsupportedImage) as err:
        list(sample_frames(make(), LIMITS))
    assert err.value.code == "unsupported"


def test_truncated_or_empty_clip_is_refused() -> None:
    data = clip_bytes(still_frames(BLACK, 2, 10))
    for keep in (0.3, 0.6, 0.9):  # into the pictures, into and past the stream table
        with pytest.raises(CorruptImage):
            list(sample_frames(truncated(data, keep), LIMITS))
    with pytest.raises(EmptyImage):
        list(sample_frames(b"", LIMITS))
