"""Pretrained musicnn (MSD_musicnn) on onnxruntime: 50 Million-Song-Dataset tags, zero-shot genres, embeddings.

musicnn (Pons & Serra, 2019, "musicnn: pre-trained convolutional neural networks for music audio
tagging", ISMIR late-breaking demo; ISC licence, see ``models/musicnn/LICENSE``) is a tagger trained
on the Million Song Dataset's 50 most frequent last.fm tags. ``scripts/convert_musicnn.py`` ports the
TensorFlow 1 checkpoint shipped in the ``musicnn==0.1.0`` wheel to ``models/musicnn/msd_musicnn.npz``;
:func:`genre.training.networks.build_musicnn` (offline) rebuilds the MSD_musicnn graph of the wheel's
``models.py`` layer for layer in Keras, ``tests/test_networks.py`` checks it against the original graph's
outputs (``tests/fixtures/musicnn_reference.npz``, made by ``scripts/musicnn_reference.py``), and
``scripts/export_onnx.py`` exports it to ``msd_musicnn.onnx`` (:data:`ONNX_FILE`), which is what runs here
(:func:`forward`, :mod:`genre.models.runtime`).

Input pipeline (the wheel's ``extractor.batch_data``): audio resampled to 16 kHz (soxr_hq), mel power
spectrogram with librosa (``n_fft=512``, ``hop_length=256``, 96 bands, librosa's defaults otherwise),
rounded to float16 as the extractor does, ``log10(10000 * mel + 1)`` (taken in float32: the extractor's
float16 arithmetic overflows to inf above a mel power of 6.55, which ordinary loud music reaches), cut
into non-overlapping patches of 187 frames (2.992 s). A signal shorter than one patch is repeat-padded
to one patch (the padding used in musicnn's training, ``"pad_short": "repeat-pad"``); the tail after the
last whole patch is dropped, as in the extractor.

Public functions (``y`` is mono float audio at ``sr`` Hz, 22050 by default, e.g. ``genre.audio.load``'s
``Signal.y``):

- :func:`tags` -> ``{tag: probability}`` averaged over patches; :func:`taggram` -> per patch.
- :func:`embed` -> ``(n_patches, 200)`` penultimate-layer embeddings (the 1506-d pooled mid-end only
  comes from the Keras port, :func:`genre.training.networks.musicnn_forward`).
- :func:`embed_clip` -> ``(400,)``: mean and max of :func:`embed` over patches.
- :func:`zero_shot` maps tag probabilities onto the 10 GTZAN genres with :data:`GENRE_TAGS`.
- :class:`MusicnnZeroShot` and :class:`MusicnnHead` are registry Predictors; :func:`load_classifier`
  is the registry loader for kind ``"musicnn"``; :func:`save_head` registers a classifier trained on
  :func:`embed_clip` vectors (e.g. logistic regression on GTZAN) with the weights beside it.

This module runs at prediction time and never imports TensorFlow: the Keras port and everything else
that needs TensorFlow is in :mod:`genre.training.networks`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Mapping

import numpy as np

from genre.config import SHIPPED_MODELS_DIR, SR
from genre.errors import ModelError

__all__ = [
    "MSD_LABELS", "MUSICNN_SR", "MUSICNN_N_FFT", "MUSICNN_HOP", "MUSICNN_N_MELS", "PATCH_FRAMES",
    "PATCH_SECONDS", "EMBED_DIM", "MTT_LABELS", "NETWORKS", "VGG_EMBED_DIM", "POOL_DIM", "MIDEND_DIM",
    "WEIGHTS_FILE", "ONNX_FILE", "DEFAULT_DIR", "GENRE_TAGS",
    "UNMAPPED_GENRES", "ZERO_SHOT_CLASSES", "logmel", "patches", "forward", "taggram", "tags",
    "embed", "embed_clip", "pool_embeddings", "zero_shot", "MusicnnZeroShot", "MusicnnHead",
    "save_head", "load_classifier",
]

#: The 50 MSD tags, in the order of the network's outputs (musicnn 0.1.0 ``configuration.MSD_LABELS``).
MSD_LABELS: tuple[str, ...] = (
    "rock", "pop", "alternative", "indie", "electronic", "female vocalists", "dance", "00s",
    "alternative rock", "jazz", "beautiful", "metal", "chillout", "male vocalists", "classic rock",
    "soul", "indie rock", "Mellow", "electronica", "80s", "folk", "90s", "chill", "instrumental",
    "punk", "oldies", "blues", "hard rock", "ambient", "acoustic", "experimental", "female vocalist",
    "guitar", "Hip-Hop", "70s", "party", "country", "easy listening", "sexy", "catchy", "funk",
    "electro", "heavy metal", "Progressive rock", "60s", "rnb", "indie pop", "sad", "House", "happy",
)

#: The 50 MagnaTagATune tags of MTT_musicnn and MTT_vgg, in output order (``configuration.MTT_LABELS``).
MTT_LABELS: tuple[str, ...] = (
    "guitar", "classical", "slow", "techno", "strings", "drums", "electronic", "rock", "fast",
    "piano", "ambient", "beat", "violin", "vocal", "synth", "female", "indian", "opera", "male",
    "singing", "vocals", "no vocals", "harpsichord", "loud", "quiet", "flute", "woman", "male vocal",
    "no vocal", "pop", "soft", "sitar", "solo", "man", "classic", "choir", "voice", "new age", "dance",
    "male voice", "female vocal", "beats", "harp", "cello", "no voice", "weird", "country", "metal",
    "female voice", "choral",
)
#: The wheel's four networks: architecture and tag set.
NETWORKS: dict[str, tuple[str, tuple[str, ...]]] = {
    "MSD_musicnn": ("musicnn", MSD_LABELS), "MTT_musicnn": ("musicnn", MTT_LABELS),
    "MSD_vgg": ("vgg", MSD_LABELS), "MTT_vgg": ("vgg", MTT_LABELS),
}
#: Width of the vgg networks' embedding (flattened last pooling layer: 2 x 1 x 128).
VGG_EMBED_DIM: int = 256

#: musicnn's input settings (``configuration.py`` of the wheel): sample rate (Hz), FFT size and hop
#: (samples), mel bands, and frames per patch (``librosa.time_to_frames(3, ...) + 1``).
MUSICNN_SR: int = 16000
MUSICNN_N_FFT: int = 512
MUSICNN_HOP: int = 256
MUSICNN_N_MELS: int = 96
PATCH_FRAMES: int = 187
#: Length of one patch and step between patches (s).
PATCH_SECONDS: float = PATCH_FRAMES * MUSICNN_HOP / MUSICNN_SR
#: Width of the penultimate layer (musicnn's ``penultimate`` feature), of the pooled mid-end
#: (max and mean over time of 753 channels, interleaved, as fed to the back-end) and of the mid-end.
EMBED_DIM: int = 200
POOL_DIM: int = 1506
MIDEND_DIM: int = 753

#: Converted weights (``scripts/convert_musicnn.py``; read by the Keras port only), their ONNX export
#: (``scripts/export_onnx.py``; what runs here) and the registry folder they ship in.
WEIGHTS_FILE: str = "msd_musicnn.npz"
ONNX_FILE: str = "msd_musicnn.onnx"
DEFAULT_DIR: Path = Path(SHIPPED_MODELS_DIR) / "musicnn"  # the shipped network, whatever GENRE_MODELS_DIR says

#: Zero-shot mapping: GTZAN genre -> the MSD tags that stand for it. A genre's score is the largest
#: probability among its tags; the 10 scores are then divided by their sum. Choices (checked on the
#: fault-filtered train+valid clips with audio only, never on the test clips):
#: - disco has no tag of its own: "70s", "80s", "dance" and "funk" (GTZAN's disco clips fire "80s"
#:   as much as "dance");
#: - classical has no tag either: "instrumental" is the tag classical clips fire most (0.28 on
#:   average, against <= 0.07 for every other genre); "ambient", "easy listening" and "beautiful"
#:   fire weakly and add nothing;
#: - "punk" counts for metal, not rock: GTZAN's metal clips fire "punk" more than "metal";
#: - "rnb" counts for hiphop; "soul" is left out (it fires on reggae, disco and pop alike);
#: - reggae has no tag at all (none of reggae/ska/dub is among the 50) and stays unmapped: the
#:   zero-shot model never predicts it (score 0).
GENRE_TAGS: dict[str, tuple[str, ...]] = {
    "blues": ("blues",),
    "classical": ("instrumental",),
    "country": ("country",),
    "disco": ("70s", "80s", "dance", "funk"),
    "hiphop": ("Hip-Hop", "rnb"),
    "jazz": ("jazz",),
    "metal": ("metal", "heavy metal", "hard rock", "punk"),
    "pop": ("pop", "indie pop", "catchy"),
    "reggae": (),
    "rock": ("rock", "classic rock", "alternative rock", "indie rock", "Progressive rock"),
}
#: Genres no MSD tag stands for.
#: The zero-shot model's classes, in its probability-column order: the mapping's genres (GTZAN's ten).
ZERO_SHOT_CLASSES: tuple[str, ...] = tuple(GENRE_TAGS)
UNMAPPED_GENRES: tuple[str, ...] = tuple(g for g in ZERO_SHOT_CLASSES if not GENRE_TAGS[g])


# --------------------------------------------------------------------------------------- input
def _to16k(y: np.ndarray, sr: int) -> np.ndarray:
    y = np.asarray(y, dtype=np.float32)
    if y.ndim != 1:
        raise ValueError(f"y must be mono, shape (n,); got shape {y.shape}.")
    if sr == MUSICNN_SR:
        return y
    import librosa

    return librosa.resample(y, orig_sr=sr, target_sr=MUSICNN_SR, res_type="soxr_hq").astype(np.float32)


def logmel(y: np.ndarray, sr: int = SR) -> np.ndarray:
    """musicnn's log-compressed mel spectrogram.

    Parameters
    ----------
    y : np.ndarray
        Mono audio, shape ``(n,)``, full scale 1.0.
    sr : int
        Sample rate of ``y`` (Hz); resampled to 16 kHz with soxr_hq when different.

    Returns
    -------
    np.ndarray
        ``(frames, 96)`` float32, ``log10(10000 * mel + 1)`` of the float16-rounded mel power,
        one frame per 256 samples at 16 kHz (16 ms).
    """
    import librosa

    y16 = _to16k(y, sr)
    mel = librosa.feature.melspectrogram(y=y16, sr=MUSICNN_SR, hop_length=MUSICNN_HOP,
                                         n_fft=MUSICNN_N_FFT, n_mels=MUSICNN_N_MELS).T
    mel = mel.astype(np.float16).astype(np.float32)
    return np.log10(10000.0 * mel + 1.0).astype(np.float32)


def patches(y: np.ndarray, sr: int = SR) -> tuple[np.ndarray, np.ndarray]:
    """Cut ``y`` into musicnn's non-overlapping 187-frame log-mel patches.

    Parameters
    ----------
    y : np.ndarray
        Mono audio, shape ``(n,)``.
    sr : int
        Sample rate of ``y`` (Hz).

    Returns
    -------
    starts_s : np.ndarray
        ``(n_patches,)`` start time of each patch (s), multiples of :data:`PATCH_SECONDS`.
    X : np.ndarray
        ``(n_patches, 187, 96)`` float32. Input shorter than one patch gives one repeat-padded patch;
        the tail after the last whole patch is dropped.
    """
    rep = logmel(y, sr)
    n = rep.shape[0]
    if n == 0:
        raise ValueError("y is empty.")
    if n < PATCH_FRAMES:
        rep = np.tile(rep, (int(np.ceil(PATCH_FRAMES / n)), 1))[:PATCH_FRAMES]
        n = PATCH_FRAMES
    starts = np.arange(0, n - PATCH_FRAMES + 1, PATCH_FRAMES)
    X = np.stack([rep[s:s + PATCH_FRAMES] for s in starts]).astype(np.float32)
    return starts * (MUSICNN_HOP / MUSICNN_SR), X


# ------------------------------------------------------------------------------------- network
def forward(X: np.ndarray, weights: str | Path | None = None, batch_size: int = 16) -> dict[str, np.ndarray]:
    """Run the ONNX export of MSD_musicnn on log-mel patches (onnxruntime, no TensorFlow).

    Parameters
    ----------
    X : np.ndarray
        ``(n, frames, 96)`` float32 patches (``frames`` is 187 for musicnn's own patches).
    weights : path, optional
        The ``.onnx`` export of the network (``scripts/export_onnx.py``); default the shipped
        ``models/musicnn/msd_musicnn.onnx``. The ``.npz`` weights are the Keras port's
        (:func:`genre.training.networks.musicnn_forward`, offline): passing one is a :class:`ModelError`.
    batch_size : int
        Patches per call (bounds memory).

    Returns
    -------
    dict
        ``probs`` (n, 50) and ``penultimate`` (n, 200), float32 numpy arrays.
    """
    X = np.asarray(X, dtype=np.float32)
    if X.ndim != 3 or X.shape[2] != MUSICNN_N_MELS:
        raise ValueError(f"X must have shape (n, frames, {MUSICNN_N_MELS}); got {X.shape}.")
    path = Path(weights) if weights is not None else DEFAULT_DIR / ONNX_FILE
    if path.suffix != ".onnx":
        raise ModelError(f"{path} is not an ONNX export: prediction runs musicnn through onnxruntime only. "
                         "Export it with scripts/export_onnx.py, or run the Keras port offline "
                         "(genre.training.networks.musicnn_forward).")
    from genre.models import runtime

    out = runtime.run(path, X, batch_size=batch_size)
    return {"probs": out["probs"], "penultimate": out["embedding"]}


# ------------------------------------------------------------------------------- public helpers
def taggram(y: np.ndarray, sr: int = SR) -> tuple[np.ndarray, np.ndarray]:
    """Tag probabilities per patch: ``(starts_s (n,), probs (n, 50))`` in :data:`MSD_LABELS` order."""
    starts, X = patches(y, sr)
    return starts, forward(X)["probs"]


def tags(y: np.ndarray, sr: int = SR) -> dict[str, float]:
    """The 50 MSD tag probabilities of ``y`` averaged over its patches, ``{tag: probability}``."""
    _, p = taggram(y, sr)
    return {t: float(v) for t, v in zip(MSD_LABELS, p.mean(axis=0))}


def embed(y: np.ndarray, sr: int = SR, layer: str = "penultimate") -> np.ndarray:
    """musicnn embeddings per 2.992-s patch.

    Parameters
    ----------
    y : np.ndarray
        Mono audio, shape ``(n,)``, at ``sr`` Hz (22050 by default).
    sr : int
        Sample rate (Hz).
    layer : {"penultimate"}
        The 200-unit dense layer after batch norm (musicnn's ``penultimate`` feature, the usual
        transfer-learning embedding). ``"pool"`` (the 1506-d max+mean-over-time pooled mid-end) is
        not in the ONNX export: a :class:`ModelError` naming
        :func:`genre.training.networks.musicnn_forward` (offline, Keras), which gives it.

    Returns
    -------
    np.ndarray
        ``(n_patches, 200)`` float32; ``n_patches = max(1, floor(duration / 2.992 s))`` (see
        :func:`patches`), through the shipped ONNX network (:func:`forward`).
    """
    if layer not in ("penultimate", "pool"):
        raise ValueError(f"layer must be 'penultimate' or 'pool', not {layer!r}.")
    if layer == "pool":
        raise ModelError("The ONNX musicnn network gives only the penultimate layer; the pooled mid-end "
                         "comes from the Keras port: genre.training.networks.musicnn_forward (offline).")
    _, X = patches(y, sr)
    return forward(X)[layer]


def pool_embeddings(E: np.ndarray) -> np.ndarray:
    """Clip vector from per-patch embeddings: ``concat(mean over patches, max over patches)``."""
    E = np.asarray(E, dtype=np.float32)
    return np.concatenate([E.mean(axis=0), E.max(axis=0)]).astype(np.float32)


def embed_clip(y: np.ndarray, sr: int = SR, layer: str = "penultimate") -> np.ndarray:
    """One vector per clip: mean and max over patches of :func:`embed` (``(400,)`` for the penultimate
    layer). For a single patch mean = max, so a 3-s segment's vector is
    ``pool_embeddings(embed(segment))`` with the same layout, which is what :class:`MusicnnHead` feeds
    its classifier per segment."""
    return pool_embeddings(embed(y, sr, layer))


def zero_shot(tag_probs: np.ndarray, mapping: Mapping[str, tuple[str, ...]] | None = None) -> np.ndarray:
    """Map tag probabilities onto the 10 GTZAN genres.

    Parameters
    ----------
    tag_probs : np.ndarray
        ``(50,)`` or ``(n, 50)`` probabilities in :data:`MSD_LABELS` order.
    mapping : dict, optional
        Genre -> tags; default :data:`GENRE_TAGS`.

    Returns
    -------
    np.ndarray
        ``(10,)`` or ``(n, 10)`` in :data:`ZERO_SHOT_CLASSES` order, summing to 1: each genre's largest tag
        probability, divided by the sum over genres. Unmapped genres get 0.
    """
    mapping = GENRE_TAGS if mapping is None else mapping
    P = np.atleast_2d(np.asarray(tag_probs, dtype=np.float64))
    if P.shape[1] != len(MSD_LABELS):
        raise ValueError(f"tag_probs must have {len(MSD_LABELS)} columns; got {P.shape}.")
    idx = {t: i for i, t in enumerate(MSD_LABELS)}
    S = np.zeros((P.shape[0], len(ZERO_SHOT_CLASSES)))
    for j, g in enumerate(ZERO_SHOT_CLASSES):
        cols = [idx[t] for t in mapping.get(g, ())]
        if cols:
            S[:, j] = P[:, cols].max(axis=1)
    S = S / np.maximum(S.sum(axis=1, keepdims=True), 1e-12)
    return S[0] if np.ndim(tag_probs) == 1 else S


# ---------------------------------------------------------------------------------- predictors
class MusicnnZeroShot:
    """Zero-shot genre Predictor: musicnn tags mapped with :data:`GENRE_TAGS` (never predicts reggae).

    ``y`` is mono float32 at 22050 Hz (:data:`genre.config.SR`).
    """

    def __init__(self, manifest: dict | None = None, weights: str | Path | None = None):
        self.manifest = dict(manifest or {})
        self.name = self.manifest.get("name", "musicnn_zeroshot")
        self.weights = weights
        self.classes = ZERO_SHOT_CLASSES

    def predict_segments(self, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Per 2.992-s patch: ``(starts_s (n,), probs (n, 10))`` in :attr:`classes` order."""
        starts, X = patches(y, SR)
        return starts, zero_shot(forward(X, self.weights)["probs"])

    def predict_clip(self, y: np.ndarray) -> np.ndarray:
        """``(10,)``: the zero-shot mapping of the tag probabilities averaged over patches."""
        _, X = patches(y, SR)
        return zero_shot(forward(X, self.weights)["probs"].mean(axis=0))


class MusicnnHead:
    """musicnn embeddings + a scikit-learn classifier (e.g. logistic regression) as a Predictor.

    The head sees :func:`embed_clip` vectors (mean and max over patches of ``layer``); per segment it
    sees the same layout computed on one patch. ``head.classes_`` may be class names or indices into the
    manifest's ``classes``; probabilities are returned in :attr:`classes` (manifest) order (classes the
    head lacks get 0).
    """

    def __init__(self, head, manifest: dict | None = None, layer: str = "penultimate",
                 weights: str | Path | None = None):
        self.head = head
        self.manifest = dict(manifest or {})
        self.name = self.manifest.get("name", "musicnn_head")
        self.layer = layer
        self.weights = weights
        self.classes = tuple(str(c) for c in self.manifest.get("classes") or ())
        if not self.classes:
            raise ModelError(f"musicnn head {self.name!r}: its manifest lists no classes.")
        try:
            classes = [self.classes[int(c)] if isinstance(c, (int, np.integer)) else str(c)
                       for c in head.classes_]
        except IndexError:
            classes = ["<index out of range>"]
        unknown = [c for c in classes if c not in self.classes]
        if unknown:
            raise ModelError(f"musicnn head {self.name!r} has classes outside its manifest's: {unknown}.")
        self._cols = [self.classes.index(c) for c in classes]

    def _proba(self, F: np.ndarray) -> np.ndarray:
        p = self.head.predict_proba(F)
        out = np.zeros((F.shape[0], len(self.classes)))
        out[:, self._cols] = p
        return out

    def _embed(self, y):
        if self.layer != "penultimate":
            raise ModelError(f"{self.name}: the ONNX network only gives the penultimate layer.")
        _, X = patches(y, SR)
        return forward(X, self.weights)[self.layer]

    def predict_segments(self, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Per 2.992-s patch: ``(starts_s (n,), probs (n, 10))``."""
        starts, X = patches(y, SR)
        E = forward(X, self.weights)[self.layer]
        F = np.stack([pool_embeddings(e[None]) for e in E])
        return starts, self._proba(F)

    def predict_clip(self, y: np.ndarray) -> np.ndarray:
        """``(10,)`` from the clip vector (:func:`embed_clip`)."""
        return self._proba(pool_embeddings(self._embed(y))[None])[0]


def save_head(name: str, head, manifest: dict, models_dir: str | Path | None = None,
              layer: str = "penultimate") -> Path:
    """Register a classifier trained on musicnn embeddings as model ``name`` (kind ``"musicnn"``).

    Writes ``head.skops`` (with its skops types recorded in ``trusted_types``, checked against
    ``genre.registry.TRUSTED_TYPES``), a copy of the ONNX network (:data:`ONNX_FILE`, from
    :data:`DEFAULT_DIR`, named in ``manifest["onnx"]``) and the licence notice, and the manifest,
    through ``genre.registry.save``. ``head`` must have been fitted on :func:`embed_clip` vectors of
    the ``"penultimate"`` layer (the only one the ONNX network gives; ``predict_proba``, ``classes_`` =
    class names or indices into ``manifest["classes"]``). ``manifest`` supplies display_name,
    trained_on, protocol, n_train, metrics...

    Returns
    -------
    Path
        The model folder.
    """
    import json

    import skops.io as sio

    from genre import registry

    if layer != "penultimate":
        raise ModelError(f"musicnn head {name!r}: layer {layer!r} is not in the ONNX network; only "
                         "'penultimate' heads can be registered.")
    data = sio.dumps(head)
    trusted = sorted(sio.get_untrusted_types(data=data))
    bad = registry.untrusted(trusted)
    if bad:
        raise ModelError(f"musicnn head {name!r} uses types that are not trusted: {bad}.")
    source = DEFAULT_DIR / "manifest.json"
    onnx_info = (json.loads(source.read_text()).get("onnx_info") if source.is_file() else None) or {
        "input": "logmel", "outputs": ["probs", "embedding"], "embedding": "penultimate (200)",
        "net": "MSD_musicnn"}
    man = {"family": "pretrained", "input": "audio", "feature_columns": None, **manifest,
           "kind": "musicnn", "onnx": ONNX_FILE, "onnx_info": onnx_info, "trusted_types": trusted,
           "embedding": {"layer": layer, "pooling": "mean+max over 2.992-s patches", "dim": 2 * EMBED_DIM}}
    man.pop("weights", None)
    files = {"head.skops": data, ONNX_FILE: DEFAULT_DIR / ONNX_FILE, "LICENSE": DEFAULT_DIR / "LICENSE"}
    return registry.save(name, files, man, models_dir)


def load_classifier(model_dir: str | Path, manifest: dict):
    """Registry loader for kind ``"musicnn"`` (``genre.registry.LOADERS``).

    The folder must hold the network's ONNX export, named in ``manifest["onnx"]`` (run by onnxruntime
    without TensorFlow); a manifest without it (made before the export, naming only the ``.npz``
    weights of the Keras port) is a :class:`ModelError` naming the fix (``scripts/export_onnx.py``).
    With a ``head.skops`` file listed in ``manifest["files"]`` the result is a :class:`MusicnnHead`
    (``manifest["embedding"] = {"layer": "penultimate"}`` picks the layer; skops types must be recorded
    in ``manifest["trusted_types"]``, as ``registry.save_sklearn`` does); otherwise a
    :class:`MusicnnZeroShot`. Register a head with :func:`save_head`.
    """
    model_dir = Path(model_dir)
    from genre.registry import model_file

    if not manifest.get("onnx"):
        name = manifest.get("name") or model_dir.name
        raise ModelError(
            f"Model {name!r} has no ONNX export of its musicnn network (its manifest was made before the "
            f"export and names only the Keras port's weights), and prediction does not run Keras. "
            f"Export it with the training requirements installed: python scripts/export_onnx.py "
            f"--wheel-dir DIR (re-registers musicnn and musicnn_logreg), or register the head again "
            f"with genre.models.musicnn.save_head, which ships the ONNX network.")
    weights = model_file(model_dir, manifest, manifest["onnx"])
    files = manifest.get("files") or {}
    if "head.skops" in files:
        from genre.registry import load_skops

        head = load_skops(model_dir / "head.skops", manifest)
        layer = (manifest.get("embedding") or {}).get("layer", "penultimate")
        return MusicnnHead(head, manifest, layer=layer, weights=weights)
    return MusicnnZeroShot(manifest, weights=weights)
