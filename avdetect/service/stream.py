"""WebSocket /v1/stream: live call screening (avdetect.listen) over one connection.

The client sends binary messages of raw PCM (s16le, 16 kHz, mono; any size) and the text message
"end" when the call is over; the server answers each event of avdetect.listen as a JSON text
message (window every 2 s of audio, alert the moment the verdict turns, end last) and closes.
A missing or wrong API key closes the handshake with 1008 (HTTP 403); an unknown claimed voice
gets {"event": "error", "error": ...} and close 1008.
"""

from __future__ import annotations

import asyncio
import json

import numpy as np
from fastapi import WebSocket, WebSocketDisconnect
from starlette.concurrency import run_in_threadpool

from .. import voices
from ..listen import CallScreen
from .access import check_key
from .uploads import ApiError

POLICY_VIOLATION = 1008  # WebSocket close code


async def stream_detector(app, settings):
    """One Detector with the audio checks for every stream, loaded on first use."""
    async with app.state.stream_lock:
        if getattr(app.state, "stream_detector", None) is None:
            from ..checks.speaker import SpeakerCheck
            from ..checks.synthetic_speech import SyntheticSpeechCheck
            from ..detector import Detector

            app.state.stream_detector = await run_in_threadpool(
                Detector, settings, (SyntheticSpeechCheck, SpeakerCheck))
        return app.state.stream_detector


async def serve_stream(ws: WebSocket, cfg, claimed: str | None) -> None:
    try:
        check_key(cfg.api_key, ws.headers)
    except ApiError as e:
        await ws.close(code=POLICY_VIOLATION, reason=e.message)
        return
    await ws.accept()
    detector = await stream_detector(ws.app, cfg.settings)
    try:
        screen = await run_in_threadpool(CallScreen, detector, claimed or None)
    except voices.VoiceError as e:
        await ws.send_text(json.dumps({"event": "error", "error": str(e)}))
        await ws.close(code=POLICY_VIOLATION)
        return
    rest = b""
    try:
        while True:
            msg = await ws.receive()
            if msg["type"] == "websocket.disconnect":
                return
            if msg.get("text") is not None:
                if msg["text"].strip() == "end":
                    break
                continue
            data = rest + (msg.get("bytes") or b"")
            usable = len(data) - len(data) % 2
            rest = data[usable:]
            if usable:
                samples = np.frombuffer(data[:usable], "<i2").astype(np.float32) / 32768.0
                for event in await run_in_threadpool(screen.feed, samples):
                    await ws.send_text(json.dumps(event))
        await ws.send_text(json.dumps(screen.finish()))
        await ws.close()
    except (WebSocketDisconnect, asyncio.CancelledError):
        return
