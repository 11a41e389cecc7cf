"""The window's view-models composed over one :class:`services.runtime.Runtime`.

This is the only object the main window receives; widgets reach the engine, the settings and
the providers exclusively through the view-models it holds.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QObject, Signal
from PySide6.QtGui import QPixmap

from retouchdesk.core.errors import RetouchError
from retouchdesk.core.jobs import JobRecord
from retouchdesk.core.schema import ParamKind, ProviderSchema
from retouchdesk.model.accounts import AccountsModel, credential_gaps
from retouchdesk.model.compare import CompareModel
from retouchdesk.model.document import DocumentModel
from retouchdesk.model.general_settings import GeneralSettingsModel
from retouchdesk.model.history import HistoryModel
from retouchdesk.model.jobs import JobsModel
from retouchdesk.model.operation import OperationModel, ProviderStatus
from retouchdesk.model.photos import PhotosModel
from retouchdesk.model.recipe_run import RecipeRunModel
from retouchdesk.model.session import SessionModel
from retouchdesk.model.tasks import TaskRunner
from retouchdesk.model.thumbnails import ThumbnailCache
from retouchdesk.model.warm_up import import_image_stack

if TYPE_CHECKING:
    from retouchdesk.core.imageio import OutputPolicy
    from retouchdesk.model.masking import MaskingModel
    from retouchdesk.model.try_on import TryOnModel
    from retouchdesk.services.runtime import Runtime
    from retouchdesk.services.settings import Settings

log = logging.getLogger(__name__)


def credential_status(settings: Settings, prov: ProviderSchema) -> ProviderStatus:
    """Ready when every required credential (or one complete alternative set) is present."""
    if prov.kind == "local" or not prov.credentials:
        return ProviderStatus(True)

    def present(key: str) -> bool:
        try:
            return bool(settings.get(prov.id, key))
        except Exception:  # no setting spec, a locked or damaged key file: missing
            return False

    gaps = credential_gaps(prov, present)
    if gaps.complete:
        return ProviderStatus(True)
    need = [c.label for c in gaps.missing]
    if gaps.ways:
        need.append(" or ".join(" + ".join(c.label for c in way) for way in gaps.ways))
    first = (gaps.missing or gaps.ways[0])[0]
    env = f"RETOUCHDESK_{prov.id}_{first.key}".upper()
    return ProviderStatus(
        False,
        f"{prov.name} needs your {', '.join(need)}. Add it in Settings › Accounts (or set {env}).",
    )


class AppModel(QObject):
    """Holds every view-model of the window.

    Signals:
        message(str): a sentence for the status bar.
    """

    message = Signal(str)
    resumed = Signal(list)  # ids of jobs picked up from an earlier session

    def __init__(self, runtime: Runtime, runner: TaskRunner | None = None) -> None:
        super().__init__()
        from retouchdesk.services import paths

        self.runtime = runtime
        self.runner = runner or TaskRunner()
        self.runner.set_error_handler(self._task_failed)
        self.settings = runtime.settings
        self.catalog = runtime.catalog
        self.engine = runtime.engine
        self.thumbs = ThumbnailCache(self.runner, parent=self)
        self.photos = PhotosModel(self.thumbs, parent=self)
        profile = self._display_profile()
        self.document = DocumentModel(self.runner, profile, parent=self)
        self.operation = OperationModel(
            self.catalog,
            self._credential_status,
            presets_dir=paths.config_dir() / "presets",
            parent=self,
        )
        default = self._setting("general", "default_provider", "local")
        if default in self.catalog.providers:
            self.operation.set_provider(default)
        self.session = SessionModel(
            self.engine, self.operation, self.runner, paths.cache_dir(), parent=self
        )
        self.jobs = JobsModel(self.engine, self.catalog, self.thumbs, parent=self)
        self.compare = CompareModel(self.session, self.runner, parent=self)
        self.history = HistoryModel(self.session, parent=self)
        self.recipes = RecipeRunModel(self.session, self.runner, parent=self)
        self._accounts: AccountsModel | None = None
        self.masking: MaskingModel | None = None  # the mask painter's, once it is made
        self._after_secrets: list[Callable[[], None]] = []
        self.pruning: asyncio.Task[list[str]] | None = None  # forgetting old jobs, at start
        self.photos.current_changed.connect(self._current_changed)
        self.jobs.job_finished.connect(self._job_finished)
        self.jobs.job_failed.connect(self.recipes.job_failed)
        self.history.working_changed.connect(self._working_changed)
        self.history.message.connect(self.message)
        # The History panel's Trash shares the compare view's Undo discard.
        self.history.trashed.connect(self._version_trashed)
        self.compare.discard_changed.connect(self.history.refresh)
        self.recipes.message.connect(self.message)
        self.session.message.connect(self.message)
        self.compare.message.connect(self.message)

    def _credential_status(self, prov: ProviderSchema) -> ProviderStatus:
        pending = self.runtime.pending_secrets
        if pending is not None and not pending.opened:
            # The keys are still being read (just after start): no lock or warning yet,
            # ``open_secrets`` checks again once they are known.
            return ProviderStatus(True)
        return credential_status(self.settings, prov)

    async def open_secrets(self) -> None:
        """Open the secret store in a worker thread (after the first paint), then show which
        providers have their keys."""
        import asyncio

        pending = self.runtime.pending_secrets
        if pending is None:
            return
        from retouchdesk.model.tasks import install_default_executor

        # The app's own pool (qasync's default would leave QThreads running at exit).
        install_default_executor(asyncio.get_running_loop())
        store = await asyncio.to_thread(pending.open)
        self.runtime.secrets = store
        self.runtime.pending_secrets = None
        self.operation.refresh_statuses()
        waiting, self._after_secrets = self._after_secrets, []
        for callback in waiting:
            callback()

    def after_secrets(self, callback: Callable[[], None]) -> None:
        """Call ``callback`` once the secret store is open (at the next turn of the loop when
        it already is): start-up work that needs keys (unlocking, credit balances)."""
        if self.runtime.pending_secrets is None:
            from PySide6.QtCore import QTimer

            QTimer.singleShot(0, callback)
        else:
            self._after_secrets.append(callback)

    @property
    def accounts(self) -> AccountsModel:
        """Keys, settings and credits of the providers; made on first use."""
        if self._accounts is None:
            rt = self.runtime
            pending = rt.pending_secrets
            source: Callable[[], Any] | None = None
            if pending is not None:  # still being opened: the accounts wait for it if need be

                def open_pending() -> Any:
                    rt.secrets = pending.open()
                    return rt.secrets

                source = open_pending

            self._accounts = AccountsModel(
                rt.settings,
                rt.secrets,
                rt.catalog,
                extras=rt.extras,
                store_source=source,
                parent=self,
            )
        return self._accounts

    def masking_model(self, parent: QObject | None = None) -> MaskingModel:
        """The mask painter's view-model over this window's operation; from now on every
        queued photo carries its frozen mask and the job records the mask options."""
        from retouchdesk.model.masking import MaskingModel

        try:
            undo_mb = int(self._setting("mask", "undo_mb", 256))
        except (TypeError, ValueError):  # a bad value: the default is fine
            undo_mb = 256
        masking = MaskingModel(
            self.operation,
            None,  # the mask library in the user's data folder
            runner=self.runner,
            undo_limit_bytes=max(8, undo_mb) * 1024 * 1024,
            parent=parent,
        )
        self.session.job_hook = masking.prepare_job
        self.masking = masking
        return masking

    def try_on_model(self, parent: QObject | None = None) -> TryOnModel:
        """Try On's view-model over this window's photos, history and painted mask."""
        from retouchdesk.model.try_on import TryOnModel

        return TryOnModel(
            self.session,
            self.operation,
            self.history,
            self.runner,
            masking=self.masking,
            parent=parent,
        )

    def general_settings(self) -> GeneralSettingsModel:
        """The view-model of Settings › General over the window's settings."""
        return GeneralSettingsModel(self.settings, self.catalog)

    def settings_applied(self) -> None:
        """After the settings dialog's OK: providers are rebuilt with the new keys on next use.

        A provider with jobs still running keeps going with the keys it started with.
        """
        busy = {r.provider for r in self.engine.jobs() if not r.state.terminal}
        for prov in self.accounts.providers():
            if prov.id in busy:
                continue
            old = self.runtime.forget_provider(prov.id)
            if old is not None:
                self.runner.spawn(old.aclose(), name=f"close-{prov.id}")
        self.operation.refresh_statuses()

    # -- keys and credits -------------------------------------------------------------------------
    def unlock_keys(self) -> None:
        """Open the encrypted key file (its prompt asks for the passphrase), then show which
        providers are set up. Raises RetouchError with a sentence (wrong passphrase, declined)."""
        self.accounts.unlock()
        self.operation.refresh_statuses()

    def refresh_credits(self, provider_id: str | None = None) -> None:
        """Ask for the balance of ``provider_id`` (every provider when None) in the background;
        only providers with credits and an account are asked. The answer arrives through
        ``accounts.credits_changed``."""
        accounts = self.accounts
        ids = [provider_id] if provider_id else [p.id for p in accounts.providers()]
        for pid in ids:
            if not accounts.has_credits(pid):
                continue
            try:
                configured = accounts.is_configured(pid)
            except RetouchError:  # a locked key file whose passphrase was not given
                continue
            if configured:
                self.runner.spawn(
                    accounts.refresh_credits(pid), name=f"credits-{pid}", preempt=True
                )

    def follow_credits(self) -> None:
        """From now on, a job that ends refreshes its provider's balance (it may have spent
        credits). The window asks for this; headless users of the model pay no extra calls."""
        self.jobs.job_finished.connect(self._job_spent_credits)
        self.jobs.job_failed.connect(self._job_spent_credits)

    def _job_spent_credits(self, job_id: str, *_args: object) -> None:
        provider_id = self.provider_of_job(job_id)
        if provider_id:
            self.refresh_credits(provider_id)

    def provider_of_job(self, job_id: str) -> str | None:
        rec = self.engine.get(job_id)
        return rec.provider if rec is not None else None

    # -- what the window asks about jobs ----------------------------------------------------------
    def earlier_results(self) -> frozenset[str]:
        """Absolute paths of every result the engine has written (a folder scan skips them):
        the whole history in the database, not only the jobs read so far."""
        return self.engine.history.earlier_results()

    def output_subfolder(self) -> str:
        """The subfolder results go to beside their photo (a folder scan skips it)."""
        return self.engine.config.output_subfolder or "retouched"

    def export_policy(self) -> OutputPolicy:
        """Save a Copy's format and metadata rules, from the output settings."""
        from retouchdesk.model import export

        return export.policy_from(self.engine.config.output_policy())

    def live_jobs(self) -> tuple[list[JobRecord], list[JobRecord]]:
        """Jobs not finished yet: (offline ones, cloud ones)."""
        local: list[JobRecord] = []
        cloud: list[JobRecord] = []
        for rec in self.engine.jobs():
            if rec.state.terminal:
                continue
            prov = self.catalog.providers.get(rec.provider)
            (local if prov is not None and prov.kind == "local" else cloud).append(rec)
        return local, cloud

    def cancel_jobs(self, job_ids: list[str]) -> None:
        for job_id in job_ids:
            self.engine.cancel(job_id)

    def source_of_result(self, result: Path) -> Path | None:
        """The photo a result file was made from (an upscale opened later reuses its mask)."""
        for rec in self.engine.jobs():
            if result in rec.results:
                return self.session.original_of(rec.input_path)
        return None

    # -- the last session ------------------------------------------------------------------------
    def save_session(self) -> None:
        """Remember the open photos, the current one and their working versions."""
        from retouchdesk.model import last_session

        try:
            last_session.save(
                last_session.LastSession(
                    list(self.photos.paths), self.photos.current_path, dict(self.session.working)
                )
            )
        except OSError as exc:  # a read-only data folder: the next start opens empty
            log.warning("the session cannot be saved: %s", exc)

    def restore_session(self) -> list[Path]:
        """Reopen the last session's photos and working versions; returns the photos."""
        from retouchdesk.model import last_session

        last = last_session.load()
        if not last.photos:
            return []
        for photo, job_id in last.working.items():
            self.session.working[photo] = job_id  # kept only while its result exists
        self.photos.add_paths(last.photos, make_current=False)
        current = last.current or last.photos[0]
        self.photos.set_current_path(current.resolve())
        return last.photos

    def cost_threshold(self) -> float:
        """Cost above which Apply asks first (``general.cost_threshold``; 0: paid batches)."""
        try:
            return max(0.0, float(self._setting("general", "cost_threshold", 0.0)))
        except (TypeError, ValueError):
            return 0.0

    def _setting(self, section: str, key: str, default: Any) -> Any:
        try:
            return self.settings.get(section, key)
        except KeyError:
            return default

    def _display_profile(self) -> Path | None:
        value = self._setting("ui", "display_profile", "")
        return Path(value).expanduser() if value else None

    def start(self) -> list[str]:
        """Start the engine (inside the running loop); resumes jobs from before a restart.

        Also imports the image stack in a worker, so the first photo does not stall the window.
        """
        import asyncio

        from retouchdesk.model.tasks import install_default_executor

        install_default_executor(asyncio.get_event_loop())
        resumed = self.engine.start()
        if resumed:
            n = len(resumed)
            self.message.emit(f"Resumed {n} job{'s' if n != 1 else ''} from the last session")
            self.resumed.emit(list(resumed))
        # The image stack is imported now, while the window is idle (model/warm_up.py).
        self.runner.spawn(self.runner.in_thread(import_image_stack), name="warm-up")
        # The history's result files, which a folder opened skips: read whole now, in a
        # worker, so that opening a folder reads only what changed since (services.history).
        self.runner.spawn(
            self.runner.in_thread(self.engine.history.read_results), name="read-results"
        )
        keep = self._setting("jobs", "keep_days", 0)
        if keep and float(keep) > 0:
            # Off the GUI thread (the deletion runs in a worker): start-up never waits for it.
            self.pruning = self.runner.spawn(
                self.engine.history.prune(float(keep)), name="prune-jobs"
            )
        return resumed

    async def aclose(self) -> None:
        self.jobs.close()
        await self.runner.cancel_all()
        await self.runtime.aclose()
        self.runner.shutdown()

    def _current_changed(self, path: str) -> None:
        photo = Path(path) if path else None
        self.history.set_photo(photo)
        self.document.open(self.session.working_input(photo) if photo else None)

    def _version_trashed(self, path: Path, in_trash: Path, job_id: str, photo: Path) -> None:
        from retouchdesk.model.compare import Discarded

        self.compare.discarded.append(Discarded(path, in_trash, job_id, photo))
        self.compare.discard_changed.emit()

    def _working_changed(self, path: str) -> None:
        """The canvas shows the working version of the current photo."""
        photo = Path(path)
        if photo == self.photos.current_path:
            self.document.open(self.session.working_input(photo))

    def shown_file(self, photo: Path) -> Path:
        """The file the canvas shows for ``photo``: its working version."""
        return self.session.working_input(photo)

    def photo_of_shown(self, path: Path) -> Path:
        """The photo whose working version is ``path`` (masks belong to the photo)."""
        return self.session.photo_for_file(path)

    def _job_finished(self, job_id: str) -> None:
        rec = self.engine.get(job_id)
        if rec is None:
            return
        photo = self.session.photo_of_job(rec)
        self.photos.set_versions(photo, len(self.session.versions(photo)))
        self.history.job_finished(rec, advance=self.recipes.owns(job_id))
        self.recipes.job_finished(job_id)

    def new_pasted_path(self) -> Path:
        """A new PNG path for an image pasted from the clipboard (kept in the data folder)."""
        import time

        from retouchdesk.services import paths

        folder = paths.data_dir() / "pasted"
        folder.mkdir(parents=True, exist_ok=True)
        stem = time.strftime("pasted-%Y%m%d-%H%M%S")
        dest, n = folder / f"{stem}.png", 2
        while dest.exists():
            dest, n = folder / f"{stem}_{n}.png", n + 1
        return dest

    def estimate(self, photos: list[Path]) -> tuple[float | None, str]:
        """Seconds the current operation would take on ``photos`` (None: unknown) and how
        the figure was obtained ("measured" on earlier jobs, or "estimated" from the schema)."""
        from retouchdesk.model import estimate

        om = self.operation
        if not om.operation_id:
            return None, ""
        try:
            params = om.validated()
        except Exception:
            return None, ""

        def size_of(path: Path) -> tuple[int, int] | None:
            return self.thumbs.size(self.session.original_of(path)) or self.thumbs.size(path)

        rate, how = estimate.seconds_per_mp(om.operation, params, self.engine.jobs(), size_of)
        times = [estimate.job_seconds(rate, size_of(p)) for p in photos]
        if rate is None or any(t is None for t in times):
            return None, ""
        return sum(t for t in times if t is not None), how

    def refresh_versions(self) -> None:
        for p in self.photos.paths:
            self.photos.set_versions(p, len(self.session.versions(p)))

    def _task_failed(self, name: str, exc: BaseException) -> None:
        self.message.emit(str(exc) or f"{type(exc).__name__} in {name}")

    # -- styles (lazy, from the provider when it lists them) -----------------------------------
    def style_loader(
        self, param: Any, deliver: Callable[..., None], page_token: str | None = None
    ) -> None:
        """Fill a style picker from the current provider's listing, in the background.

        ``deliver(styles, error="", more=None)``: ``more`` is set when the provider has a
        further page; calling ``more(deliver)`` fetches it.
        """
        self.runner.spawn(
            self._load_styles(param, deliver, page_token), name=f"styles:{param.name}"
        )

    async def _load_styles(
        self, param: Any, deliver: Callable[..., None], page_token: str | None = None
    ) -> None:
        if param.kind is not ParamKind.STYLE:
            return
        try:
            provider_id = self.operation.provider_id
            if not self.catalog.provider(provider_id).lists_styles:
                deliver([], error="This provider does not list its styles; type a style id.")
                return
            prov = self.runtime.provider(provider_id)
            items, next_token = await prov.list_styles(param.style_source or param.name, page_token)
        except Exception as exc:
            deliver([], error=str(exc) or "The styles cannot be loaded now.")
            return
        styles = []
        for it in items:
            thumb = None
            tp = getattr(it, "thumb_path", None)
            if tp:
                pm = QPixmap(str(tp))
                thumb = pm if not pm.isNull() else None
            styles.append({"id": it.id, "label": getattr(it, "title", it.id), "thumbnail": thumb})
        more: Callable[..., None] | None = None
        if next_token:

            def fetch_more(again: Callable[..., None], token: str = next_token) -> None:
                self.style_loader(param, again, token)

            more = fetch_more
        deliver(styles, more=more)
