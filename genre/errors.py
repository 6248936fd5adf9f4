"""The one exception family for errors a user can cause. Messages are written for a person."""

from __future__ import annotations


class GenreError(Exception):
    """Base class of every error a user can cause (bad file, bad argument, bad model file)."""


class AudioError(GenreError):
    """The input could not be used as audio. Subclasses say why."""

    accepted = ("Accepted: WAV, FLAC, MP3, OGG/Vorbis, Opus, M4A/AAC; "
                "at least 3 s of sound, any sample rate or channel count.")

    def __init__(self, message: str):
        super().__init__(f"{message} {self.accepted}")
        self.reason = message


class EmptyAudioError(AudioError):
    """The file or byte string is empty."""


class NotAudioError(AudioError):
    """The data is not a recognised audio container."""


class CorruptAudioError(AudioError):
    """The container was recognised but the stream is corrupt or truncated."""


class UnsupportedCodecError(AudioError):
    """The container holds a codec that cannot be decoded here."""


class TooShortError(AudioError):
    """Less audio than the minimum length."""


class SilentAudioError(AudioError):
    """The audio is digital silence."""


class ModelError(GenreError):
    """A model name is unknown, or a model file is missing or fails its hash check."""


class DataError(GenreError):
    """Required data (the GTZAN folder, a split list, an audio folder) is missing or malformed."""
