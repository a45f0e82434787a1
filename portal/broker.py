"""The embedded profile's broker: kombu's filesystem transport, made safe to share.

kombu's own ``filesystem://`` transport breaks as soon as several processes use it
at once (kombu issue #1551, issue 8 §1): ``_put`` creates the message file empty and
then writes it, so a worker can claim and parse it empty (``JSONDecodeError``, and
the worker dies); ``_get`` deletes the file as it reads it, so a worker killed before
the task ran loses the message even with ``acks_late``; exchange tables are rewritten
in place and live in ``./control`` relative to whatever the current directory is.

This transport keeps kombu's file names and folder semantics and changes how files
move, so that every step is one atomic ``rename`` on one filesystem:

``queue/``
    ready messages, ``<time_ns>_<uuid>.<queue>.msg``. A publisher writes the message
    under ``tmp/``, fsyncs it and renames it here: a reader sees all of it or nothing.
``processing/<pid>-<token>/``
    messages claimed by one consuming process, until they are acknowledged (then
    deleted) or rejected/restored (then renamed back into ``queue/``). A claim is a
    rename out of ``queue/``: of two readers exactly one wins. The folder's
    ``.owner`` file is locked (``flock``) for the life of its process; the kernel
    drops the lock when the process dies however it dies, so any other process that
    can take the lock knows the owner is gone and returns its messages to the queue
    (at channel start and every ``reclaim_interval`` seconds). With ``acks_late`` a
    SIGKILLed worker therefore loses nothing: its tasks run again elsewhere.
``quarantine/``
    a file that cannot be parsed (left by the old transport, or a broken disk) is
    moved here with a logged error; it never reaches, let alone stops, a worker.
``control/``
    exchange tables (``<exchange>.exchange``), written whole to ``tmp/`` and renamed
    into place under a lock, read without one.
``tmp/``
    files being written. One a dead writer left behind was never published.

Every file is created 0600 and every folder 0700 (they may carry task arguments).
Remote control (pidbox), gossip, mingle and heartbeats are not used over this
transport (settings.py and runall): broadcast fan-out to every worker that ever lived
is what filled ``control/`` with dead workers' tables.
"""

from __future__ import annotations

import atexit
import contextlib
import fcntl
import logging
import os
import threading
import time
import uuid
from pathlib import Path
from queue import Empty

from kombu.exceptions import ChannelError
from kombu.transport import filesystem
from kombu.utils.encoding import bytes_to_str
from kombu.utils.json import dumps, loads

log = logging.getLogger(__name__)

FILE_MODE = 0o600
DIR_MODE = 0o700
OWNER = ".owner"
STAGING_PREFIX = ".new-"
# A staging folder (mkdir → lock → rename) older than this was left by a crash.
STALE_STAGING_SECONDS = 60
# A temporary file older than this was left by a writer that died mid-write.
STALE_TMP_SECONDS = 3600


def _mkdir(path: Path) -> Path:
    path.mkdir(mode=DIR_MODE, parents=True, exist_ok=True)
    return path


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class _Claims:
    """This process's processing folder and the files it holds, by delivery tag.

    One per process, shared by all its connections and channels: a message may be
    acknowledged or requeued through another channel than the one that claimed it
    (kombu's ``_reject_inbound_message`` does that). A forked child starts afresh.
    """

    def __init__(self):
        self.pid = os.getpid()
        self.folder: Path | None = None
        self.owner_fd: int | None = None
        self.files: dict[str, Path] = {}
        self.lock = threading.Lock()

    def folder_in(self, root: Path) -> Path:
        """This process's folder under ``root`` (created and locked on first use)."""
        with self.lock:
            if self.folder is None or self.folder.parent != root:
                token = f"{self.pid}-{uuid.uuid4().hex[:12]}"
                staging = root / f"{STAGING_PREFIX}{token}"
                staging.mkdir(mode=DIR_MODE)
                fd = os.open(staging / OWNER, os.O_RDWR | os.O_CREAT, FILE_MODE)
                fcntl.flock(fd, fcntl.LOCK_EX)
                # Published only once locked: a reclaimer never sees it unowned.
                folder = root / token
                os.rename(staging, folder)
                self.folder, self.owner_fd = folder, fd
                atexit.register(self.release)
            return self.folder

    def release(self) -> None:
        """At exit: remove our folder if it holds nothing (else the next process's
        reclaim returns what is left, e.g. messages restored after this ran)."""
        if self.pid != os.getpid() or self.folder is None:
            return
        with contextlib.suppress(OSError):
            if os.listdir(self.folder) == [OWNER]:
                (self.folder / OWNER).unlink()
                self.folder.rmdir()

    def hold(self, tag: str, path: Path) -> None:
        with self.lock:
            self.files[tag] = path

    def take(self, tag: str) -> Path | None:
        with self.lock:
            return self.files.pop(tag, None)


_claims = _Claims()


def _this_process_claims() -> _Claims:
    global _claims
    if _claims.pid != os.getpid():  # forked: the parent's claims are not ours
        _claims = _Claims()
    return _claims


class Channel(filesystem.Channel):
    """kombu's filesystem channel with atomic writes, claims held until acked,
    dead consumers' messages returned, unreadable files quarantined."""

    def __init__(self, connection, **kwargs):
        super().__init__(connection, **kwargs)
        self._no_ack_queues: set[str] = set()
        self._next_reclaim = 0.0
        for folder in (
            self.data_folder_in,
            self.data_folder_out,
            self.processing_root,
            self.quarantine_folder,
            self.control_folder,
            self.tmp_folder,
        ):
            _mkdir(folder)
        self._clean_stale_tmp()
        self._reclaim_dead()

    # --- folders (every one of them explicit: nothing relative to the cwd) -------
    def _folder(self, option: str, default: str | None = None) -> Path:
        value = self.transport_options.get(option)
        if value:
            return Path(value).absolute()
        if default is None:
            raise ChannelError(
                f"the portal's filesystem broker needs transport option {option!r}"
            )
        return (self.data_folder_in.parent / default).absolute()

    @property
    def data_folder_in(self) -> Path:
        return self._folder("data_folder_in")

    @property
    def data_folder_out(self) -> Path:
        return self._folder("data_folder_out")

    @property
    def processing_root(self) -> Path:
        return self._folder("processing_folder", "processing")

    @property
    def quarantine_folder(self) -> Path:
        return self._folder("quarantine_folder", "quarantine")

    @property
    def tmp_folder(self) -> Path:
        return self._folder("tmp_folder", "tmp")

    @property
    def control_folder(self) -> Path:
        return self._folder("control_folder", "control")

    @property
    def fsync(self) -> bool:
        return bool(self.transport_options.get("fsync", True))

    @property
    def reclaim_interval(self) -> float:
        return float(self.transport_options.get("reclaim_interval", 5.0))

    # --- writing -------------------------------------------------------------------
    def _write_atomic(self, target: Path, data: bytes) -> None:
        """``target`` appears whole or not at all (tmp file, fsync, rename)."""
        tmp = self.tmp_folder / f"{uuid.uuid4().hex}.tmp"
        try:
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, FILE_MODE)
            try:
                view = memoryview(data)
                while view:
                    view = view[os.write(fd, view) :]
                if self.fsync:
                    os.fsync(fd)
            finally:
                os.close(fd)
            os.rename(tmp, target)
            if self.fsync:
                _fsync_dir(target.parent)
        except OSError as exc:
            with contextlib.suppress(OSError):
                tmp.unlink()
            raise ChannelError(f"Cannot write {target.name!r} to the broker") from exc

    def _put(self, queue, payload, **kwargs):
        """Put ``payload`` onto ``queue``: one atomic rename into ``queue/``."""
        if not queue or os.sep in queue or "\0" in queue:
            raise ChannelError(f"Invalid queue name: {queue!r}")
        name = f"{time.time_ns():020d}_{uuid.uuid4().hex}.{queue}.msg"
        self._write_atomic(self.data_folder_out / name, dumps(payload).encode())

    # --- reading, acknowledging, restoring --------------------------------------------
    def basic_consume(self, queue, no_ack, callback, consumer_tag, **kwargs):
        if no_ack:
            self._no_ack_queues.add(queue)
        return super().basic_consume(queue, no_ack, callback, consumer_tag, **kwargs)

    def _get(self, queue):
        """Claim the oldest message of ``queue`` (rename into our processing folder)."""
        self._maybe_reclaim()
        wanted = f"{queue}.msg"
        source = self.data_folder_in
        claims = _this_process_claims()
        mine = None
        for name in sorted(os.listdir(source)):
            if name.partition(".")[2] != wanted:
                continue
            mine = mine or claims.folder_in(self.processing_root)
            claimed = mine / name
            try:
                os.rename(source / name, claimed)
            except FileNotFoundError:
                continue  # another consumer claimed it first
            try:
                payload = loads(bytes_to_str(claimed.read_bytes()))
                tag = payload["properties"]["delivery_tag"]
            except Exception as exc:  # a broken file is set aside, never raised
                self._quarantine(claimed, exc)
                continue
            if queue in self._no_ack_queues:
                claimed.unlink()  # nobody will ack it: it is done once delivered
            else:
                claims.hold(tag, claimed)
            return payload
        raise Empty()

    def basic_get(self, queue, no_ack=False, **kwargs):
        message = super().basic_get(queue, no_ack=no_ack, **kwargs)
        if message is not None and no_ack:
            self._done(message.delivery_tag)
        return message

    def basic_ack(self, delivery_tag, multiple=False):
        super().basic_ack(delivery_tag, multiple=multiple)
        self._done(delivery_tag)

    def basic_reject(self, delivery_tag, requeue=False):
        super().basic_reject(delivery_tag, requeue=requeue)  # requeue: _restore
        self._done(delivery_tag)  # not requeued: the message is finished

    def _done(self, delivery_tag) -> None:
        path = _this_process_claims().take(delivery_tag)
        if path is not None:
            with contextlib.suppress(FileNotFoundError):
                path.unlink()

    def _restore(self, message):
        """Requeue an unacknowledged message: its claimed file goes back as it was."""
        path = _this_process_claims().take(message.delivery_tag)
        if path is not None:
            try:
                os.rename(path, self.data_folder_in / path.name)
                return
            except FileNotFoundError:
                pass  # not on disk any more: write it again rather than lose it
        super()._restore(message)

    def _quarantine(self, path: Path, exc: Exception) -> None:
        target = self.quarantine_folder / path.name
        try:
            os.rename(path, target)
        except OSError:
            log.exception("could not quarantine broker file %s", path.name)
            return
        log.error(
            "broker file %s could not be read (%s: %s); moved to %s",
            path.name,
            type(exc).__name__,
            exc,
            self.quarantine_folder,
        )

    # --- dead consumers ----------------------------------------------------------------
    def _maybe_reclaim(self) -> None:
        now = time.monotonic()
        if now >= self._next_reclaim:
            self._next_reclaim = now + self.reclaim_interval
            self._reclaim_dead()

    def _reclaim_dead(self) -> int:
        """Return to the queue every message held by a process that is gone.

        A live owner holds the lock on its folder's ``.owner``; if we can take it,
        the owner is dead. Returns how many messages went back.
        """
        root = self.processing_root
        mine = _this_process_claims().folder
        returned = 0
        try:
            entries = list(os.scandir(root))
        except FileNotFoundError:
            return 0
        for entry in entries:
            folder = Path(entry.path)
            if not entry.is_dir(follow_symlinks=False) or folder == mine:
                continue
            if entry.name.startswith(STAGING_PREFIX):
                self._remove_stale_staging(folder)
                continue
            try:
                fd = os.open(folder / OWNER, os.O_RDWR)
            except FileNotFoundError:
                fd = None  # an interrupted reclaim: finish it
            except OSError:
                continue
            try:
                if fd is not None:
                    try:
                        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    except BlockingIOError:
                        continue  # its owner is alive
                returned += self._return_folder(folder)
            finally:
                if fd is not None:
                    os.close(fd)
        return returned

    def _return_folder(self, folder: Path) -> int:
        returned = 0
        try:
            names = os.listdir(folder)
        except FileNotFoundError:
            return 0
        for name in names:
            if name == OWNER:
                continue
            with contextlib.suppress(FileNotFoundError):
                os.rename(folder / name, self.data_folder_in / name)
                returned += 1
        with contextlib.suppress(FileNotFoundError):
            (folder / OWNER).unlink()
        with contextlib.suppress(OSError):
            folder.rmdir()
        if returned:
            log.warning(
                "returned %d unacknowledged message(s) of a dead consumer "
                "(pid %s) to the queue",
                returned,
                folder.name.partition("-")[0],
            )
        return returned

    def _remove_stale_staging(self, folder: Path) -> None:
        try:
            if time.time() - folder.stat().st_mtime < STALE_STAGING_SECONDS:
                return
            with contextlib.suppress(FileNotFoundError):
                (folder / OWNER).unlink()
            folder.rmdir()
        except OSError:
            pass

    def _clean_stale_tmp(self) -> None:
        cutoff = time.time() - STALE_TMP_SECONDS
        with contextlib.suppress(OSError):
            for entry in os.scandir(self.tmp_folder):
                with contextlib.suppress(OSError):
                    if entry.stat().st_mtime < cutoff:
                        os.unlink(entry.path)

    # --- queues ------------------------------------------------------------------------
    def _queue_files(self, queue) -> list[str]:
        wanted = f"{queue}.msg"
        return [
            name
            for name in os.listdir(self.data_folder_in)
            if name.partition(".")[2] == wanted
        ]

    def _size(self, queue):
        return len(self._queue_files(queue))

    def _purge(self, queue):
        count = 0
        for name in self._queue_files(queue):
            with contextlib.suppress(FileNotFoundError):
                os.unlink(self.data_folder_in / name)
                count += 1
        return count

    # --- exchange tables -----------------------------------------------------------------
    def _read_table(self, exchange) -> list:
        file = self._exchange_file(exchange)
        try:
            rows = loads(bytes_to_str(file.read_bytes()))
            return [filesystem.exchange_queue_t(*row) for row in rows]
        except FileNotFoundError:
            return []
        except Exception as exc:  # an old or broken table: rebuilt by the next bind
            log.warning("exchange table %s unreadable (%s); ignored", file.name, exc)
            return []

    def get_table(self, exchange):
        """The bindings of ``exchange``: those on disk (every process's) and ours."""
        rows = self._read_table(exchange)
        mine = self.state.exchanges.get(exchange, {}).get("table", [])
        for routing_key, pattern, queue in mine:
            row = filesystem.exchange_queue_t(
                routing_key or "", pattern or "", queue or ""
            )
            if row not in rows:
                rows.append(row)
        return rows

    @contextlib.contextmanager
    def _table_lock(self, exchange):
        lock_file = self.control_folder / f"{exchange}.lock"
        self._exchange_file(exchange)  # validates the name first
        fd = os.open(lock_file, os.O_RDWR | os.O_CREAT, FILE_MODE)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield
        finally:
            os.close(fd)

    def _write_table(self, exchange, rows) -> None:
        self._write_atomic(self._exchange_file(exchange), dumps(rows).encode())

    def _queue_bind(self, exchange, routing_key, pattern, queue):
        row = filesystem.exchange_queue_t(routing_key or "", pattern or "", queue or "")
        if row in self._read_table(exchange):
            return  # the common case: every process binds the same queues at start
        with self._table_lock(exchange):
            rows = self._read_table(exchange)
            if row not in rows:
                rows.insert(0, row)
                self._write_table(exchange, rows)

    def _delete(self, queue, exchange, routing_key, pattern, *args, **kwargs):
        self._purge(queue)
        row = filesystem.exchange_queue_t(routing_key or "", pattern or "", queue or "")
        with self._table_lock(exchange):
            rows = self._read_table(exchange)
            if row in rows:
                rows.remove(row)
                self._write_table(exchange, rows)


class Transport(filesystem.Transport):
    """``filesystem://`` of the embedded profile (registered in portal/celery.py)."""

    Channel = Channel
    driver_name = "portal-filesystem"

    @property
    def default_connection_params(self):
        # No host: kombu would otherwise warn "No hostname was supplied" on every
        # connection (each web request that sends a task).
        return {"port": None, "hostname": None}
