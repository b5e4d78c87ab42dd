"""Stage times of the per-photo path: recorded only while a StageTimes is active."""

from __future__ import annotations

from pathlib import Path

import pytest

from adiencekit.inference.stage_times import StageTimes, stage


def test_nothing_is_recorded_without_an_active_stage_times() -> None:
    times = StageTimes()
    with stage("decode"):
        pass
    assert not times.calls
    with times:
        with stage("decode"):
            pass
    with stage("decode"):  # after the block: no longer recorded
        pass
    assert dict(times.calls) == {"decode": 1}


@pytest.mark.realdata
def test_predict_records_each_stage_of_a_single_face_photo(utk_files: list[Path], small_model) -> None:
    from adiencekit.inference import Predictor
    from adiencekit.inference.mtcnn_keras import KerasMTCNNDetector

    predictor = Predictor(small_model, detector=KerasMTCNNDetector())
    with StageTimes() as times:
        result = predictor.predict(utk_files[0])
    assert len(result.faces) == 1
    for name in ("decode", "downscale", "pyramid", "pnet", "pnet boxes + nms", "rnet patches", "rnet",
                 "rnet boxes + nms", "onet patches", "onet", "onet boxes + nms", "align", "model"):
        assert times.calls[name] >= 1, name
        assert times.seconds[name] > 0, name
