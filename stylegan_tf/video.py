"""Videos from uint8 frames: MP4 through imageio + imageio-ffmpeg (the `[video]` extra, whose wheel ships
ffmpeg), GIF through Pillow when they are missing; written to a temp file and renamed into place."""

import os
import sys

import numpy as np


def video_encoder_available():
    """True when imageio and imageio-ffmpeg (with its ffmpeg binary) can write MP4."""
    try:
        import imageio.v2  # noqa: F401
        import imageio_ffmpeg
        imageio_ffmpeg.get_ffmpeg_exe()
        return True
    except (ImportError, RuntimeError, OSError):
        return False


class VideoWriter:
    """Write uint8 HWC frames (RGB or grey) one at a time as MP4 (imageio-ffmpeg, H.264) or GIF (PIL).
    `fmt='auto'` is MP4 when the encoder is installed, GIF otherwise; `path`'s extension follows the
    format (`self.path`). Frames go to a temp file in the same directory, renamed over `path` by `close()`;
    `abort()` (or an exception inside a `with` block) removes it. GIF frames are kept in memory."""

    def __init__(self, path, fps=30, fmt="auto"):
        import tempfile
        if fmt == "auto":
            fmt = "mp4" if video_encoder_available() else "gif"
            if fmt == "gif":  # say so: the user asked for a video and may expect MP4
                print("Note: writing a GIF; MP4 needs the [video] extra (pip install 'stylegan-tf[video]')",
                      file=sys.stderr, flush=True)
        if fmt not in ("mp4", "gif"):
            raise ValueError("video format must be mp4, gif or auto, got %r" % (fmt,))
        if fmt == "mp4" and not video_encoder_available():
            raise RuntimeError("MP4 needs imageio and imageio-ffmpeg (pip install 'stylegan-tf[video]'); "
                               "use GIF instead")
        self.fmt, self.fps, self.count = fmt, fps, 0
        self.path = os.path.splitext(path)[0] + "." + fmt
        directory = os.path.dirname(os.path.abspath(self.path))
        fd, self.tmp = tempfile.mkstemp(dir=directory, prefix="." + os.path.basename(self.path) + ".",
                                        suffix="." + fmt)
        os.close(fd)
        self.writer, self.frames = None, []
        if fmt == "mp4":
            import imageio.v2 as imageio
            # H.264 in yuv420p needs even sizes; macro_block_size=2 keeps every power-of-two size unchanged.
            self.writer = imageio.get_writer(self.tmp, format="FFMPEG", mode="I", fps=fps, codec="libx264",
                                             quality=8, pixelformat="yuv420p", macro_block_size=2,
                                             ffmpeg_log_level="error")

    def append(self, frame):
        frame = _rgb(frame)
        if self.writer is not None:
            self.writer.append_data(frame)
        else:
            import PIL.Image
            self.frames.append(PIL.Image.fromarray(frame))
        self.count += 1

    def close(self):
        """Finish the file and rename it into place; returns the final path."""
        try:
            if self.count == 0:
                raise ValueError("no frames to write")
            if self.writer is not None:
                self.writer.close()
                self.writer = None
            else:
                self.frames[0].save(self.tmp, format="GIF", save_all=True, append_images=self.frames[1:],
                                    duration=max(int(round(1000.0 / self.fps)), 20), loop=0)
                self.frames = []
            umask = os.umask(0)
            os.umask(umask)
            os.chmod(self.tmp, 0o666 & ~umask)
            os.replace(self.tmp, self.path)
        except BaseException:
            self.abort()
            raise
        return self.path

    def abort(self):
        if self.writer is not None:
            try:
                self.writer.close()
            except Exception:
                pass
            self.writer = None
        self.frames = []
        if os.path.exists(self.tmp):
            os.remove(self.tmp)

    def __enter__(self):
        return self

    def __exit__(self, exc_type, exc, tb):
        if exc_type is not None:
            self.abort()


def write_video(frames, path, fps=30, fmt="auto"):
    """Write an iterable of uint8 HWC frames with `VideoWriter`, atomically; returns the final path."""
    with VideoWriter(path, fps, fmt) as video:
        for frame in frames:
            video.append(frame)
        return video.close()


def _rgb(frame):
    frame = np.asarray(frame, np.uint8)
    if frame.ndim == 2:
        frame = frame[:, :, np.newaxis]
    if frame.shape[2] == 1:
        frame = np.repeat(frame, 3, axis=2)
    return np.ascontiguousarray(frame)
