"""The job runner against the real database, the db image store and the fake Gemini (real SDK)."""

from __future__ import annotations

import hashlib
import threading
import uuid
from datetime import UTC

import pytest
from sqlalchemy import func, select, text

from viba.accounts import auth
from viba.engine.images import prepare_image, probe_image
from viba.jobs import wiring
from viba.jobs.runner import RUNNERS, WORKER_ID, ImageResult, JobError, JobRunner, Usage
from viba.store.db import Database
from viba.store.image_store import ImageStore, make_backend
from viba.store.models import GenerationHistory, ImageRef, ModelUsage
from viba.studio import features, generations, history, prompt_store

import fake_gemini as fg
from fake_gemini import png_bytes
from helpers import PASSWORD, forget_app_runner, queue_name, wait_until


def models():
    return dict(features.catalog().defaults)


def submit(runner, db, user, feature, n_images, gemini_config, **options):
    images = [
        prepare_image(png_bytes(f"{feature}-{i}-{uuid.uuid4()}"), f"in{i}.png")
        for i in range(n_images)
    ]
    in_use = prompt_store.prompts_in_use(prompt_store.active_prompts(db))
    return runner.submit(user.id, feature, images, options, models(), in_use, gemini_config)


def row(db, job_id):
    with db.session() as s:
        return s.get(GenerationHistory, job_id)


@pytest.mark.parametrize("feature,n", [("avatar", 2), ("try_on", 2), ("swap", 2)])
def test_single_image_features_complete_with_a_stored_output(
    runner, db, store, member, gemini_config, feature, n
):
    job_id = submit(runner, db, member, feature, n, gemini_config)
    runner.wait(job_id)
    r = row(db, job_id)
    assert r.status == "completed", r.error_message
    assert len(r.input_keys) == n and len(r.output_keys) == 1
    assert store.load(r.output_keys[0])[:3] == b"\xff\xd8\xff"  # Gemini's JPEG, kept as is
    step = features.get(feature).step_ids[0]
    assert r.input_params["models"] == {step: models()[step]}
    assert r.input_params["prompt_versions"] == {step: prompt_store.BUILTIN}
    assert r.details["outputs"][r.output_keys[0]]["model"] == models()[step]


def test_derivation_records_description_variants_and_partial_failures(
    runner, db, store, member, gemini_config, fake_gemini
):
    image_model = models()["derivation_image"]
    fake_gemini.script(fg.error(400, "bad variant"), model=image_model)
    job_id = submit(
        runner, db, member, "derivation", 1, gemini_config, creativity=8, skin_tone="East Asian"
    )
    runner.wait(job_id)
    r = row(db, job_id)
    assert r.status == "completed"
    assert len(r.output_keys) == 3
    assert r.details["description"].startswith("1. Content")
    # Gemini 3 image models think first: the thought summary is kept with each output (the
    # interim thought image is not the output), and the output's image tokens.
    for meta in r.details["outputs"].values():
        assert meta["thoughts"].startswith("**Planning the composition**")
        assert meta["image_tokens"] == 1120
    assert [f["kind"] for f in r.details["failures"]] == ["bad_request"]
    # The output follows the 96x128 input (3:4) at Derivation's default size.
    assert r.input_params["options"] == {
        "creativity": 8,
        "skin_tone": "East Asian",
        "image_size": "1K",
        "aspect_ratio": "3:4",
    }
    with db.session() as s:
        refs = s.execute(select(ImageRef.role).where(ImageRef.generation_id == job_id)).all()
    assert sorted(x.role for x in refs) == ["input"] + ["output"] * 3
    # Usage: one row per successful call (the failed variant costs nothing here), with the
    # step, model and tokens the SDK reported.
    with db.session() as s:
        usage = s.scalars(select(ModelUsage).where(ModelUsage.generation_id == job_id)).all()
    assert sorted((u.step, u.model, u.images) for u in usage) == sorted(
        [("derivation_text", models()["derivation_text"], 0)]
        + [("derivation_image", image_model, 1)] * 3
    )
    assert all(u.user_id == member.id and u.feature == "derivation" for u in usage)
    per_output = sum(m["tokens"] for m in r.details["outputs"].values())
    assert sum(u.tokens for u in usage) == per_output + r.details["description_tokens"] > 0
    assert (
        r.input_params["prompt"]
        == prompt_store.active_prompts(db)["derivation_text"].template.render()
    )


def test_engine_error_fails_the_job_with_its_message(
    runner, db, member, gemini_config, fake_gemini
):
    fake_gemini.script(fg.error(429, "quota"), model=models()["avatar"])
    job_id = submit(runner, db, member, "avatar", 1, gemini_config)
    runner.wait(job_id)
    r = row(db, job_id)
    assert r.status == "failed"
    assert "quota" in r.error_message.lower() and models()["avatar"] in r.error_message


def test_progress_is_visible_while_running_and_per_user_limit_holds(
    runner, db, member, admin, gemini_config, fake_gemini
):
    gate = threading.Event()
    fake_gemini.script(*[fg.gated(gate) for _ in range(4)], model=models()["avatar"])
    ids = [submit(runner, db, member, "avatar", 1, gemini_config) for _ in range(3)]
    wait_until(lambda: [row(db, i).status for i in ids].count("processing") == 2)
    # 2 at once per user, in order; the third waits while another user's job goes first
    assert [row(db, i).status for i in ids] == ["processing", "processing", "pending"]
    other = submit(runner, db, admin, "avatar", 1, gemini_config)
    wait_until(lambda: row(db, other).status == "processing")
    assert row(db, ids[2]).status == "pending"
    gate.set()
    for i in [*ids, other]:
        runner.wait(i)
    assert [row(db, i).status for i in [*ids, other]] == ["completed"] * 4
    third = fake_gemini.generate_calls(models()["avatar"])[-1]
    assert third.images == [("image/jpeg", runner.store.load(row(db, ids[2]).input_keys[0]))]


def test_run_again_uses_the_same_inputs(runner, db, member, gemini_config):
    first = submit(runner, db, member, "swap", 2, gemini_config)
    runner.wait(first)
    in_use = prompt_store.prompts_in_use(prompt_store.active_prompts(db))
    second = runner.run_again(first, member.id, in_use, gemini_config)
    runner.wait(second)
    assert row(db, second).input_keys == row(db, first).input_keys
    assert row(db, second).status == "completed"


def test_other_users_cannot_run_again_or_read(runner, db, member, admin, gemini_config):
    job_id = submit(runner, db, member, "avatar", 1, gemini_config)
    runner.wait(job_id)
    assert runner.get(job_id, admin.id) is None
    with pytest.raises(JobError):
        runner.run_again(job_id, admin.id, {}, gemini_config)
    with pytest.raises(history.NotFound):
        history.get_generation(db, admin.id, job_id)


def test_wrong_image_count_and_options_are_refused(runner, db, member, gemini_config):
    with pytest.raises(JobError, match="2 images"):
        submit(runner, db, member, "try_on", 1, gemini_config)
    with pytest.raises(Exception, match="Creativity"):
        submit(runner, db, member, "derivation", 1, gemini_config, creativity=11)


def test_delete_removes_only_unshared_images(runner, db, store, member, gemini_config):
    first = submit(runner, db, member, "swap", 2, gemini_config)
    runner.wait(first)
    in_use = prompt_store.prompts_in_use(prompt_store.active_prompts(db))
    second = runner.run_again(first, member.id, in_use, gemini_config)  # shares the inputs
    runner.wait(second)
    a, b = row(db, first), row(db, second)
    deleted = history.delete_generation(db, store, member.id, first)
    # The fake's image depends on the prompt and model only: both runs made the same output,
    # so every image of the first run is still used by the second.
    assert a.output_keys == b.output_keys
    assert deleted == 0
    assert all(store.exists(k) for k in b.input_keys + b.output_keys)
    # The output bytes are the same for every swap with the default prompt and model, so
    # other tests' rows may still use it; the inputs were made for this test only.
    with db.session() as s:
        others = s.scalar(
            select(ImageRef.key)
            .where(ImageRef.key == b.output_keys[0], ImageRef.generation_id != second)
            .limit(1)
        )
    assert history.delete_generation(db, store, member.id, second) == (2 if others else 3)
    assert not any(store.exists(k) for k in b.input_keys)
    assert store.exists(b.output_keys[0]) == bool(others)
    with pytest.raises(history.NotFound):
        history.delete_generation(db, store, member.id, second)


def test_outputs_zip_holds_every_variant(runner, db, store, member, gemini_config):
    import io
    import zipfile

    job_id = submit(runner, db, member, "derivation", 1, gemini_config)
    runner.wait(job_id)
    view = history.get_generation(db, member.id, job_id)
    with zipfile.ZipFile(io.BytesIO(history.outputs_zip(store, view))) as zf:
        names = zf.namelist()
    assert len([n for n in names if n.endswith(".jpg")]) == 4
    assert "description.txt" in names


class DeletedRightAfterSave(ImageStore):
    """The image store as another request sees it: that request deletes the (then
    unreferenced) image just after this one saved it, before its reference is written."""

    race = True

    def save(self, data, mime):
        stored = super().save(data, mime)
        if self.race:
            self.race = False
            self.delete(stored.key)
        return stored


def test_an_image_deleted_between_save_and_reference_is_put_back(
    db, tmp_path, member, gemini_config
):
    store = DeletedRightAfterSave(make_backend("local", db, tmp_path))
    runner = JobRunner(db, store, workers=2, per_user=2, heartbeat_s=0.2, queue=queue_name())
    try:
        job_id = submit(runner, db, member, "avatar", 1, gemini_config)
        runner.wait(job_id)
        r = row(db, job_id)
        assert r.status == "completed", r.error_message
        assert store.exists(r.input_keys[0])
    finally:
        runner.shutdown()


def test_deleting_an_unreferenced_image_waits_for_a_reference_being_written(db, store, member):
    """delete_generation checks and deletes each image under the image's lock, the lock under
    which jobs write references: while one is held, the delete waits."""
    key = store.save(png_bytes(f"shared-{uuid.uuid4()}"), "image/png").key
    with db.session() as s:
        gen = GenerationHistory(
            user_id=member.id,
            type="avatar",
            status="completed",
            input_params={},
            input_keys=[key],
            output_keys=[],
            details={},
        )
        s.add(gen)
        s.flush()
        gid = gen.id
        s.add(ImageRef(generation_id=gid, key=key, role="input"))
    done = threading.Event()
    second = uuid.uuid4()

    def delete_it():
        history.delete_generation(db, store, member.id, gid)
        done.set()

    with db.locked_session(generations.image_lock(key)) as s:  # a job writing its reference
        worker = threading.Thread(target=delete_it)
        worker.start()
        assert not done.wait(0.5)  # the delete waits for the lock
        s.add(
            GenerationHistory(
                id=second,
                user_id=member.id,
                type="avatar",
                status="pending",
                input_params={},
                input_keys=[key],
                output_keys=[],
                details={},
            )
        )
        s.flush()
        s.add(ImageRef(generation_id=second, key=key, role="input"))
    worker.join(30)
    assert done.is_set()
    assert store.exists(key)  # the new reference was seen: the shared image was kept


def test_a_variant_whose_bytes_are_not_an_image_is_one_failed_variant(
    runner, db, store, member, gemini_config, fake_gemini
):
    import base64
    import hashlib

    from viba.store.models import Blob

    junk = b"\x89PNG but not really an image" * 10
    fake_gemini.script(
        fg.candidate_answer(
            [{"inlineData": {"mimeType": "image/png", "data": base64.b64encode(junk).decode()}}]
        ),
        model=models()["derivation_image"],
    )
    job_id = submit(runner, db, member, "derivation", 1, gemini_config)
    runner.wait(job_id)
    r = row(db, job_id)
    assert r.status == "completed" and len(r.output_keys) == 3
    assert [f["kind"] for f in r.details["failures"]] == ["bad_image"]
    assert "could not be read" in r.details["failures"][0]["error"]
    digest = hashlib.sha256(junk).hexdigest()
    with db.session() as s:
        assert not s.scalars(select(Blob.key).where(Blob.key.contains(digest))).all()


def test_an_output_that_cannot_be_kept_fails_that_variant_only(gemini_config):
    from viba.engine import pipelines
    from viba.store.image_store import StorageError

    kept, failed = [], []

    def keep(index, image):
        if index == 2:
            raise StorageError("The image store is full.")
        kept.append(index)

    image = prepare_image(png_bytes("keep-me"), "in.png")
    result = pipelines.run_derivation(
        gemini_config,
        image,
        models()["derivation_text"],
        models()["derivation_image"],
        on_variant=keep,
        on_failure=lambda index, error: failed.append((index, str(error))),
    )
    assert sorted(kept) == [0, 1, 3] and len(result.images) == 3
    assert failed == [(2, "This variant could not be kept (The image store is full.).")]


@pytest.mark.parametrize("n", [4])
def test_n_submits_at_once_never_need_more_than_a_pool_of_n(
    database_url, member, gemini_config, tmp_path, n
):
    """Every submit holds a connection inside its image lock while the image store (here the
    database itself) checks and stores the inputs: with a second connection each, N submits
    on a pool of N waited for an N+1th until the pool timed out."""
    from viba.store.db import Database

    small = Database(database_url, pool_size=n, max_overflow=0, pool_timeout=5)
    store = ImageStore(make_backend("db", small, tmp_path))
    r = JobRunner(small, store, workers=1, per_user=1, heartbeat_s=30, queue=queue_name())
    barrier = threading.Barrier(n)
    outcomes: list = []

    def one(i: int) -> None:
        image = prepare_image(png_bytes(f"pool-{i}-{uuid.uuid4()}"), f"p{i}.png")
        barrier.wait()
        try:
            outcomes.append(
                r.submit(
                    member.id,
                    "avatar",
                    [image],
                    {},
                    models(),
                    prompt_store.prompts_in_use(prompt_store.active_prompts(small)),
                    gemini_config,
                )
            )
        except Exception as exc:  # noqa: BLE001 - the outcome is what the test checks
            outcomes.append(exc)

    try:
        threads = [threading.Thread(target=one, args=(i,)) for i in range(n)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
        assert len(outcomes) == n and all(isinstance(o, uuid.UUID) for o in outcomes), outcomes
        for job_id in outcomes:
            r.wait(job_id)
    finally:
        r.shutdown()
        small.dispose()


def test_variants_keep_their_places_whatever_order_they_finish_in():
    from datetime import datetime

    from viba.studio.generations import GenerationView, output_slots

    now = datetime.now(UTC)
    meta = {"img/c": {"variant": 3}, "img/a": {"variant": 1}, "img/d": {"variant": 4}}
    view = GenerationView(
        uuid.uuid4(),
        uuid.uuid4(),
        "derivation",
        "processing",
        {},
        [],
        ["img/c", "img/a", "img/d"],
        {"outputs": meta},
        None,
        now,
        now,
    )
    assert output_slots(view, 4) == ["img/a", None, "img/c", "img/d"]
    single = GenerationView(
        uuid.uuid4(),
        uuid.uuid4(),
        "avatar",
        "completed",
        {},
        [],
        ["img/x"],
        {"outputs": {"img/x": {"variant": None}}},
        None,
        now,
        now,
    )
    assert output_slots(single, 1) == ["img/x"]


# --- picking up jobs a dead process left, and stopping without losing any -----------------


@pytest.fixture(autouse=True)
def sole_runner():
    """The runners these tests make are the only ones sweeping: a page test's app runner (it
    lives on in this process) would otherwise pick up their stale rows first."""

    for r in list(RUNNERS):
        r.shutdown(wait=False)
    forget_app_runner()


@pytest.fixture()
def quiet(empty_database_url, tmp_path):
    """(db, store, member) on a database of their own: the suite's database has other sweepers
    that no fixture here can stop (the browser tests' `streamlit run` server, another process
    alive for the rest of the run, sweeps it every half second and would pick up a dead
    process's job before the runner under test does)."""
    db = Database(empty_database_url)
    db.migrate()
    try:
        member = auth.register(db, "quiet@example.com", "Job Tester", PASSWORD)
        yield db, ImageStore(make_backend("db", db, tmp_path)), member
    finally:
        db.dispose()


class DyingRunner(JobRunner):
    """A process that stores the job and dies before its queue job is written (SQLite: the
    queue is in memory; on PostgreSQL see left_by_a_dead_worker)."""

    def _defer_local(self, job_id, user_id, sealed) -> None:
        pass


def left_by_a_dead_worker(db, store, member, gemini_config, feature, n_images, **options):
    """A job whose worker died while running it: its row processing, its queue job 'doing'
    (PostgreSQL) under a worker whose last heartbeat is an hour old."""
    if db.is_postgres:
        dying = JobRunner(db, store, work=False, queue=QUEUE_OF_DEAD)
        try:
            job_id = submit(dying, db, member, feature, n_images, gemini_config, **options)
        finally:
            dying.shutdown()
        with db.session() as s:
            worker = s.scalar(
                text(
                    "INSERT INTO procrastinate_workers (last_heartbeat) "
                    "VALUES (now() - interval '1 hour') RETURNING id"
                )
            )
            s.execute(
                text(
                    "UPDATE procrastinate_jobs SET status = 'doing', worker_id = :w WHERE id = :j"
                ),
                {"w": worker, "j": row(db, job_id).details["queue_job"]},
            )
    else:
        dying = DyingRunner(db, store, queue=QUEUE_OF_DEAD)
        try:
            job_id = submit(dying, db, member, feature, n_images, gemini_config, **options)
        finally:
            dying.shutdown()
    with db.session() as s:  # it had begun
        r = s.get(GenerationHistory, job_id)
        r.status = "processing"
        r.details = {**r.details, "runs": 1}
    return job_id


QUEUE_OF_DEAD = "test-dead-worker"


def resuming_runner(db, store, gemini_config, **kwargs):
    return JobRunner(
        db,
        store,
        heartbeat_s=0.2,
        queue=QUEUE_OF_DEAD,
        config_for=lambda user_id, own, sealed: gemini_config,
        **kwargs,
    )


def test_a_job_whose_worker_died_is_picked_up_again_keeping_what_it_had(
    quiet, gemini_config, fake_gemini
):
    db, store, member = quiet
    job_id = left_by_a_dead_worker(db, store, member, gemini_config, "derivation", 1)
    # Before it died it had its description and variant 2.
    view = generations.find(db, member.id, job_id)
    generations.merge_details(db, job_id, description="a red square", description_tokens=7)
    kept = ImageResult(png_bytes("variant two"), "image/png", "m", Usage(1, 2, 3), 0.1)
    generations.add_output(db, store, view, "derivation_image", kept, 2)
    fake_gemini.reset()
    r = resuming_runner(db, store, gemini_config)  # retries the stalled job (PostgreSQL),
    try:  # or defers the unfinished rows again at start (SQLite)
        r.wait(job_id)
    finally:
        r.shutdown()
    done = row(db, job_id)
    assert done.status == "completed", done.error_message
    assert done.details["resumed"] == 1
    assert done.worker_id == r.owner
    # Step 1 was not asked again; only variants 1, 3 and 4 were made.
    calls = fake_gemini.generate_calls()
    assert [c.model for c in calls] == [models()["derivation_image"]] * 3
    assert all("a red square" in c.text for c in calls)
    slots = generations.output_slots(generations.find(db, member.id, job_id), 4)
    assert None not in slots and slots[1] == done.output_keys[0]
    with db.session() as s:  # the kept variant's 3 and the new ones' usage rows
        image_tokens = sum(
            s.scalars(select(ModelUsage.tokens).where(ModelUsage.generation_id == job_id))
        )
    assert image_tokens > 3 and done.details["total_tokens"] == 7 + image_tokens


def test_a_job_interrupted_too_often_fails_with_a_sentence(quiet, gemini_config, fake_gemini):
    db, store, member = quiet
    job_id = left_by_a_dead_worker(db, store, member, gemini_config, "avatar", 1)
    generations.merge_details(db, job_id, runs=3)  # begun, and resumed twice already
    fake_gemini.reset()
    r = resuming_runner(db, store, gemini_config)
    try:
        wait_until(lambda: row(db, job_id).status == "failed")
    finally:
        r.shutdown()
    assert row(db, job_id).error_message == generations.INTERRUPTED_MESSAGE
    assert fake_gemini.generate_calls() == []


def test_a_job_made_with_a_key_kept_for_one_session_goes_on_with_that_key(
    quiet, gemini_config, fake_gemini, tmp_path
):
    """The key travels sealed in the queue job; a process holding only the database and the
    queue's rows cannot read it, one with the app's secret can."""
    db, store, member = quiet
    from dataclasses import replace

    from viba.core.config import load_settings

    settings = load_settings(
        VIBA_DATA_DIR=str(tmp_path),
        VIBA_COOKIE_KEY="k" * 48,
        GEMINI_BASE_URL=gemini_config.base_url,
        GEMINI_API_VERSION="v1beta",
        GEMINI_API_KEY="the-team-key-0123456789",
    )
    own = replace(gemini_config, api_key="the-users-own-key-0123456789", own_key=True)
    fake_gemini.reset()
    sqlite = not db.is_postgres  # the submitter runs it, as if another process had sent it
    submitter = JobRunner(
        db,
        store,
        work=sqlite,
        queue=queue_name(),
        seal=wiring.sealer(settings),
        config_for=wiring.resume_config(settings, db) if sqlite else None,
    )
    submitter._configs = NotHeld()  # as if another process submitted it
    worker = None
    try:
        job_id = submit(submitter, db, member, "avatar", 1, own)
        if db.is_postgres:
            sealed = db_scalar(
                db,
                "SELECT args->>'key' FROM procrastinate_jobs WHERE id = :j",
                j=row(db, job_id).details["queue_job"],
            )
            assert sealed and "the-users-own-key" not in sealed
            worker = JobRunner(
                db, store, queue=submitter.queue, config_for=wiring.resume_config(settings, db)
            )
        wait_until(lambda: row(db, job_id).status == "completed")
    finally:
        submitter.shutdown()
        if worker is not None:
            worker.shutdown()
    (call,) = fake_gemini.generate_calls()
    assert {k.lower(): v for k, v in call.headers.items()}["x-goog-api-key"] == own.api_key


class NotHeld(dict):
    """A runner's map of the configurations it was handed, always empty."""

    def __setitem__(self, key, value) -> None:
        pass


def db_scalar(db, sql, **params):
    with db.session() as s:
        return s.scalar(text(sql), params)


def test_workers_starting_at_once_pick_up_a_job_exactly_once(quiet, gemini_config, fake_gemini):
    db, store, member = quiet
    job_id = left_by_a_dead_worker(db, store, member, gemini_config, "avatar", 1)
    fake_gemini.reset()
    start = threading.Barrier(1 if not db.is_postgres else 4)  # SQLite: one process
    runners: list = []

    def boot():
        start.wait()
        runners.append(resuming_runner(db, store, gemini_config))

    threads = [threading.Thread(target=boot) for _ in range(start.parties)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    try:
        wait_until(lambda: row(db, job_id).status == "completed")
    finally:
        for r in runners:
            r.shutdown()
    assert len(fake_gemini.generate_calls()) == 1
    assert row(db, job_id).details["resumed"] == 1


def test_stopping_refuses_new_jobs_and_lets_running_ones_finish(
    db, store, member, gemini_config, fake_gemini
):
    gate = threading.Event()
    fake_gemini.script(fg.gated(gate), model=models()["avatar"])
    r = JobRunner(db, store, heartbeat_s=0.2, grace_s=30, queue=queue_name())
    try:
        job_id = submit(r, db, member, "avatar", 1, gemini_config)
        wait_until(lambda: fake_gemini.generate_calls())
        stopping = threading.Thread(target=r.shutdown)
        stopping.start()
        wait_until(lambda: r._stopped)
        with pytest.raises(JobError, match="restarting for an update"):
            submit(r, db, member, "avatar", 1, gemini_config)
        assert row(db, job_id).status == "processing" and stopping.is_alive()
        gate.set()
        stopping.join(timeout=30)
        assert not stopping.is_alive()
        assert row(db, job_id).status == "completed"
    finally:
        gate.set()
        r.shutdown()


def test_a_stop_that_outlasts_its_grace_hands_the_job_to_another_worker(
    quiet, gemini_config, fake_gemini
):
    db, store, member = quiet
    gate = threading.Event()
    text_model = models()["derivation_text"]
    fake_gemini.script(fg.gated(gate), model=text_model)
    first = resuming_runner(db, store, gemini_config, grace_s=0.2)
    second = None
    try:
        job_id = submit(first, db, member, "derivation", 1, gemini_config)
        wait_until(lambda: fake_gemini.generate_calls(text_model))
        stopping = threading.Thread(target=first.shutdown)
        stopping.start()
        wait_until(lambda: first.worker.aborting)  # past its grace: told to stop
        gate.set()  # the answer it waited for comes; it starts no image call
        stopping.join(timeout=30)
        assert row(db, job_id).status == "pending"  # handed back, not failed
        assert fake_gemini.generate_calls(models()["derivation_image"]) == []
        assert row(db, job_id).details["description"]  # what it had is kept
        second = resuming_runner(db, store, gemini_config)
        second.wait(job_id)
    finally:
        gate.set()
        first.shutdown()
        if second is not None:
            second.shutdown()
    done = row(db, job_id)
    assert done.status == "completed" and done.details["resumed"] == 1
    assert len(fake_gemini.generate_calls(text_model)) == 1  # step 1 was not asked again
    assert len(fake_gemini.generate_calls(models()["derivation_image"])) == 4


def test_the_output_has_the_chosen_size_and_the_ratio_of_the_input_it_follows(
    runner, db, store, member, gemini_config, fake_gemini
):
    import io

    from PIL import Image

    person = prepare_image(png_bytes("person", size=(90, 120)), "person.png")
    scene = prepare_image(png_bytes("scene", size=(160, 90)), "scene.png")
    in_use = prompt_store.prompts_in_use(prompt_store.active_prompts(db))
    job_id = runner.submit(member.id, "swap", [person, scene], {}, models(), in_use, gemini_config)
    runner.wait(job_id)
    (call,) = fake_gemini.generate_calls()
    # Swap follows the scene (16:9) at its default 2K; the prompt says the same ratio.
    assert call.body["generationConfig"]["imageConfig"] == {
        "aspectRatio": "16:9",
        "imageSize": "2K",
    }
    assert "16:9 aspect ratio" in call.text
    r = row(db, job_id)
    assert r.input_params["options"] == {"image_size": "2K", "aspect_ratio": "16:9"}
    with Image.open(io.BytesIO(store.load(r.output_keys[0]))) as kept:
        assert kept.size == (2752, 1536)  # Google's 2K 16:9


def test_a_size_the_model_cannot_make_is_refused_before_any_call(
    runner, db, member, gemini_config, fake_gemini
):
    photo = prepare_image(png_bytes("refused"), "in.png")
    in_use = prompt_store.prompts_in_use(prompt_store.active_prompts(db))
    pro = {**models(), "avatar": "gemini-3-pro-image"}
    with pytest.raises(JobError, match="Gemini 3 Pro Image makes images of 1K, 2K, 4K"):
        runner.submit(
            member.id, "avatar", [photo], {"image_size": "512"}, pro, in_use, gemini_config
        )
    assert fake_gemini.requests == []
    assert generations.recent(db, member.id, "avatar") == []


def test_a_queued_job_cancelled_never_runs(db, store, member, gemini_config, fake_gemini):
    gate = threading.Event()
    fake_gemini.script(fg.gated(gate))  # the first job's one call waits
    one_at_a_time = JobRunner(db, store, workers=2, per_user=1, heartbeat_s=0.2, queue=queue_name())
    try:
        first = submit(one_at_a_time, db, member, "avatar", 1, gemini_config)
        second = submit(one_at_a_time, db, member, "avatar", 1, gemini_config)
        wait_until(lambda: row(db, first).status == "processing")
        assert row(db, second).status == "pending"
        assert generations.cancel(db, member.id, second)
        assert not generations.cancel(db, member.id, second)  # once
        gate.set()
        one_at_a_time.wait(first)
        one_at_a_time.wait(second)
        assert row(db, first).status == "completed"
        assert row(db, second).status == "cancelled" and row(db, second).output_keys == []
        assert len(fake_gemini.generate_calls()) == 1  # the first job's only
    finally:
        gate.set()
        one_at_a_time.shutdown()


def test_a_running_job_cancelled_starts_no_more_calls_and_keeps_what_it_made(
    runner, db, member, gemini_config, fake_gemini
):
    gate = threading.Event()
    text_model = models()["derivation_text"]
    fake_gemini.script(fg.gated(gate), model=text_model)  # step 1 waits
    job_id = submit(runner, db, member, "derivation", 1, gemini_config)
    wait_until(lambda: fake_gemini.generate_calls(text_model))
    assert generations.cancel(db, member.id, job_id)
    gate.set()
    runner.wait(job_id)
    r = row(db, job_id)
    assert r.status == "cancelled" and r.error_message is None
    assert r.details["description"].startswith("1. Content")  # the answer it had is kept
    assert r.details["cost_usd"] > 0  # and what it cost
    assert fake_gemini.generate_calls(models()["derivation_image"]) == []
    # Someone else cannot cancel it, and an ended job cannot be cancelled.
    other = auth.register(db, f"other-{uuid.uuid4().hex[:8]}@example.com", "Other", PASSWORD)
    done = submit(runner, db, member, "avatar", 1, gemini_config)
    runner.wait(done)
    assert not generations.cancel(db, other.id, done)
    assert not generations.cancel(db, member.id, done)
    assert row(db, done).status == "completed"


def test_cancel_racing_completion_ends_one_way_or_the_other(
    runner, db, member, gemini_config, fake_gemini
):
    """Cancels sent at the moment the answers arrive: each job ends either completed (the
    cancel said it had ended) or cancelled (the cancel said so), with what it made counted."""
    gate = threading.Event()
    model = models()["avatar"]
    fake_gemini.script(*[fg.gated(gate) for _ in range(4)], model=model)
    ids = [submit(runner, db, member, "avatar", 1, gemini_config) for _ in range(4)]
    wait_until(lambda: len(fake_gemini.generate_calls(model)) == 2)  # 2 run, 2 wait
    said: dict = {}
    start = threading.Barrier(len(ids) + 1)

    def cancel(job_id):
        start.wait()
        said[job_id] = runner.cancel(member.id, job_id)

    threads = [threading.Thread(target=cancel, args=(i,)) for i in ids]
    for t in threads:
        t.start()
    start.wait()
    gate.set()
    for t in threads:
        t.join()
    for job_id in ids:
        runner.wait(job_id)
        ended = row(db, job_id)
        assert ended.status == ("cancelled" if said[job_id] else "completed")
        assert ended.error_message is None
        with db.session() as s:
            calls = s.scalar(select(func.count()).where(ModelUsage.generation_id == job_id))
        assert calls == len(ended.output_keys)  # every image kept is a call counted
        assert (ended.details.get("cost_usd") is not None) == bool(calls)
    assert not runner.cancel(member.id, ids[0])  # ended: nothing to cancel


# --- uploads: checked from their headers where they arrive, decoded by the worker ---------


def sent_images(fake) -> list[tuple[str, bytes]]:
    """Every image the fake received, inline or through the Files API."""
    return [image for r in fake.generate_calls() for image in r.images]


def phone_photo(size=(3000, 2000), seed=0) -> bytes:
    """A photo as a phone saves it: large, noisy, turned by its EXIF orientation (6)."""
    import io

    from PIL import Image

    img = Image.effect_noise(size, 40 + seed).convert("RGB")
    exif = Image.Exif()
    exif[0x0112] = 6
    out = io.BytesIO()
    img.save(out, "JPEG", quality=85, exif=exif)
    return out.getvalue()


def upload_refs(db, job_id):
    with db.session() as s:
        return sorted(
            s.scalars(
                select(ImageRef.key).where(
                    ImageRef.generation_id == job_id, ImageRef.role == "input"
                )
            )
        )


def submit_uploads(runner, db, user, feature, uploads, gemini_config):
    images = [probe_image(data, name) for name, data in uploads]
    in_use = prompt_store.prompts_in_use(prompt_store.active_prompts(db))
    return runner.submit(user.id, feature, images, {}, models(), in_use, gemini_config)


def broken_png() -> bytes:
    """A PNG whose header and every chunk's checksum are right but whose pixel data is not
    zlib: only a decode finds it out."""
    import struct
    import zlib

    good = png_bytes("whole")
    chunks, at = [], 8
    while at < len(good):
        (length,) = struct.unpack(">I", good[at : at + 4])
        kind, body = good[at + 4 : at + 8], good[at + 8 : at + 8 + length]
        if kind == b"IDAT":
            body = b"\x00" * len(body)
        crc = struct.pack(">I", zlib.crc32(kind + body))
        chunks.append(struct.pack(">I", len(body)) + kind + body + crc)
        at += 12 + length
    return good[:8] + b"".join(chunks)


@pytest.fixture()
def web_and_worker(db, store, gemini_config):
    """Shape (b): a web without a worker (VIBA_WORKER=off) and a worker of the same queue."""
    if not db.is_postgres:
        pytest.skip("a web without a worker needs PostgreSQL's queue (SQLite runs jobs in the app)")
    web = JobRunner(db, store, work=False, queue=queue_name())
    worker = JobRunner(
        db, store, queue=web.queue, heartbeat_s=0.2, config_for=lambda *_: gemini_config
    )
    yield web, worker
    web.shutdown()
    worker.shutdown()


def test_a_web_without_a_worker_stores_the_upload_as_it_came_and_the_worker_prepares_it(
    web_and_worker, db, store, member, gemini_config, fake_gemini
):
    from io import BytesIO

    from PIL import Image

    web, worker = web_and_worker
    photo = phone_photo()
    probed = probe_image(photo, "phone.jpg")
    assert (probed.width, probed.height) == (2000, 3000)  # upright, from the header alone
    upload = store.save_upload(probed.data, probed.mime_type).key
    assert upload.startswith("upload/") and store.thumbnails([upload]) == {}
    job_id = submit_uploads(web, db, member, "derivation", [("phone.jpg", photo)], gemini_config)
    assert row(db, job_id).input_keys == [upload]  # the web stored it as it came
    wait_until(lambda: row(db, job_id).status not in generations.UNFINISHED, timeout=30)
    r = row(db, job_id)
    assert r.status == "completed", r.error_message
    assert r.input_params["options"]["aspect_ratio"] == "2:3"  # the upright shape, followed
    # Only the prepared image is kept, referred to by the row and its refs; the upload is gone.
    [key] = r.input_keys
    assert key.startswith("img/") and key.endswith(".jpg")
    assert upload_refs(db, job_id) == [key]
    assert not store.exists(upload) and store.thumbnails([key])
    with Image.open(BytesIO(store.load(key))) as prepared:
        assert prepared.size[1] == 2048 and prepared.size[0] < prepared.size[1]  # upright
    # Its 5 calls (a description, 4 variants) each got the prepared JPEG, not the upload.
    assert sent_images(fake_gemini) == [("image/jpeg", store.load(key))] * 5


def test_an_upload_that_cannot_be_decoded_fails_its_job_with_a_sentence_before_any_call(
    web_and_worker, db, store, member, gemini_config, fake_gemini
):
    web, _ = web_and_worker
    broken = broken_png()
    assert probe_image(broken, "broken.png").width > 0  # its header passes
    job_id = submit_uploads(web, db, member, "avatar", [("broken.png", broken)], gemini_config)
    wait_until(lambda: row(db, job_id).status not in generations.UNFINISHED, timeout=30)
    r = row(db, job_id)
    assert r.status == "failed"
    assert r.error_message == "“broken.png” is damaged or incomplete; upload it again."
    assert fake_gemini.generate_calls() == []
    # Nothing lost: the row keeps the upload (History shows it, Run again tries it again).
    assert r.input_keys[0].startswith("upload/") and store.exists(r.input_keys[0])


def test_with_a_worker_in_the_process_an_upload_is_prepared_before_its_row_exists(
    runner, db, store, member, gemini_config, fake_gemini
):
    with db.session() as s:
        before = s.scalar(select(func.count()).select_from(GenerationHistory))
    with pytest.raises(JobError, match="^“broken.png” is damaged or incomplete; upload it again.$"):
        submit_uploads(runner, db, member, "avatar", [("broken.png", broken_png())], gemini_config)
    with db.session() as s:
        assert s.scalar(select(func.count()).select_from(GenerationHistory)) == before
    photo = phone_photo((900, 600), seed=5)
    job_id = submit_uploads(runner, db, member, "avatar", [("p.jpg", photo)], gemini_config)
    assert row(db, job_id).input_keys[0].startswith("img/")  # no round trip through the store
    assert not store.exists(f"upload/{hashlib.sha256(photo).hexdigest()}.jpg")
    runner.wait(job_id)
    assert row(db, job_id).status == "completed"


def test_rows_sharing_one_upload_prepared_at_once_each_keep_the_prepared_image(db, store, member):
    """Four jobs of the same photo, their workers preparing it at the same moment: each row
    refers to the one prepared image, and the upload goes once nothing refers to it."""
    photo = phone_photo((1200, 900), seed=3)
    probed = probe_image(photo, "same.jpg")
    params = {"input_names": ["same.jpg"], "options": {}, "models": {}}
    ids = [
        generations.create(db, store, member.id, "avatar", [probed], dict(params), WORKER_ID)
        for _ in range(4)
    ]
    upload = row(db, ids[0]).input_keys[0]
    assert upload.startswith("upload/")
    views = [generations.find(db, member.id, job_id) for job_id in ids]
    start = threading.Barrier(4)
    results, errors = [], []

    def one(view):
        start.wait()
        try:
            results.append(generations.prepare_inputs(db, store, view, prepare_image))
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=one, args=(v,)) for v in views]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert not errors and len(results) == 4
    keys = {row(db, job_id).input_keys[0] for job_id in ids}
    assert len(keys) == 1 and next(iter(keys)).startswith("img/")
    (key,) = keys
    assert store.exists(key) and not store.exists(upload)
    assert all(upload_refs(db, job_id) == [key] for job_id in ids)
    assert {v.input_keys[0] for v in results} == {key}


def test_submits_at_once_write_no_more_uploads_at_once_than_the_decode_setting(
    db, store, member, monkeypatch
):
    """A database store holds several times an upload while writing it: eight people
    submitting at once write at most VIBA_DECODES_AT_ONCE uploads at a time, and every row
    gets its own."""
    from viba.engine import images

    running, most = [0], [0]
    lock = threading.Condition()
    real = store.backend.put

    def counted(key, data, mime):
        with lock:
            running[0] += 1
            most[0] = max(most[0], running[0])
            lock.notify_all()
            # Hold this write until more than the limit run at once (which must not happen)
            # or a short while has passed.
            lock.wait_for(lambda: running[0] > images.DEFAULT_DECODES_AT_ONCE, timeout=0.3)
        try:
            return real(key, data, mime)
        finally:
            with lock:
                running[0] -= 1

    monkeypatch.setattr(store.backend, "put", counted)
    params = {"input_names": ["p.jpg"], "options": {}, "models": {}}
    start = threading.Barrier(8)
    ids: list[uuid.UUID] = []

    def one(seed):
        probed = probe_image(phone_photo((300, 200), seed=seed), "p.jpg")
        start.wait()
        ids.append(
            generations.create(db, store, member.id, "avatar", [probed], dict(params), WORKER_ID)
        )

    threads = [threading.Thread(target=one, args=(seed,)) for seed in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert 1 <= most[0] <= images.DEFAULT_DECODES_AT_ONCE
    keys = [row(db, job_id).input_keys[0] for job_id in ids]
    assert len(set(keys)) == 8 and all(store.exists(k) for k in keys)


# --- models that cannot be called: the step's default, else the best listed one -----------


@pytest.fixture()
def fresh_lists():
    from viba.engine import availability

    availability.forget()
    yield availability
    availability.forget()


def submit_with(runner, db, user, feature, gemini_config, chosen):
    images = [prepare_image(png_bytes(f"{feature}-{uuid.uuid4()}"), "in.png")]
    in_use = prompt_store.prompts_in_use(prompt_store.active_prompts(db))
    return runner.submit(
        user.id, feature, images, {}, {**models(), **chosen}, in_use, gemini_config
    )


IMAGE_DEFAULT = features.catalog().default_for("avatar")


def test_a_model_the_key_does_not_list_is_swapped_for_the_steps_default_and_said_so(
    runner, db, member, gemini_config, fake_gemini, fresh_lists
):
    fake_gemini.models = [m for m in fake_gemini.models if m != "gemini-3-pro-image"]
    job_id = submit_with(
        runner, db, member, "avatar", gemini_config, {"avatar": "gemini-3-pro-image"}
    )
    runner.wait(job_id)
    r = row(db, job_id)
    assert r.status == "completed", r.error_message
    assert {c.model for c in fake_gemini.generate_calls()} == {IMAGE_DEFAULT}
    assert r.input_params["models"]["avatar"] == IMAGE_DEFAULT
    assert r.details["model_fallbacks"] == [
        {
            "step": "avatar",
            "asked": "gemini-3-pro-image",
            "used": IMAGE_DEFAULT,
            "reason": "is not offered to this API key",
        }
    ]


def test_a_listed_model_that_answers_404_is_swapped_keeping_what_was_made(
    runner, db, member, gemini_config, fake_gemini, fresh_lists
):
    """The key's list still names it (read an hour ago), the call says 404: the description
    made by the text model is kept, the variants come from the default."""
    fresh_lists.for_config(gemini_config)  # the list, read while the model was there
    fake_gemini.models = [m for m in fake_gemini.models if m != "gemini-3-pro-image"]
    job_id = submit_with(
        runner, db, member, "derivation", gemini_config, {"derivation_image": "gemini-3-pro-image"}
    )
    runner.wait(job_id)
    r = row(db, job_id)
    assert r.status == "completed", r.error_message
    assert len(r.output_keys) == 4 and r.details.get("failures") == []
    text_model = models()["derivation_text"]
    assert len(fake_gemini.generate_calls(text_model)) == 1  # step 1 was not asked again
    assert len(fake_gemini.generate_calls(IMAGE_DEFAULT)) == 4
    (swap,) = r.details["model_fallbacks"]
    assert swap["asked"] == "gemini-3-pro-image" and swap["used"] == IMAGE_DEFAULT
    assert "404" in swap["reason"]


def test_without_the_default_the_best_listed_model_of_the_capability_is_used(
    runner, db, member, gemini_config, fake_gemini, fresh_lists
):
    fake_gemini.models = [m for m in fake_gemini.models if m != IMAGE_DEFAULT]
    job_id = submit_with(runner, db, member, "avatar", gemini_config, {})
    runner.wait(job_id)
    r = row(db, job_id)
    assert r.status == "completed", r.error_message
    used = r.details["model_fallbacks"][0]["used"]
    assert used != IMAGE_DEFAULT and features.catalog().get(used).capability == "image"
    assert {c.model for c in fake_gemini.generate_calls()} == {used}


def test_a_job_fails_for_a_model_only_when_no_model_of_its_kind_can_be_called(
    runner, db, member, gemini_config, fake_gemini, fresh_lists
):
    catalog = features.catalog()
    fake_gemini.models = [
        m for m in fake_gemini.models if (catalog.get(m) and catalog.get(m).capability) != "image"
    ]
    job_id = submit_with(runner, db, member, "avatar", gemini_config, {})
    runner.wait(job_id)
    r = row(db, job_id)
    assert r.status == "failed"
    assert "is not available to this API key or no longer exists" in r.error_message


def test_when_no_callable_model_makes_the_size_asked_the_nearest_it_makes_is_used(
    runner, db, member, gemini_config, fake_gemini, fresh_lists
):
    """Avatar asks 4K; the key lists only Nano Banana 2 Lite (1K): the job is made at 1K,
    and the row says so, instead of a 400 for a size the model cannot make."""
    catalog = features.catalog()
    lite = "gemini-3.1-flash-lite-image"
    fake_gemini.models = [
        m for m in fake_gemini.models if m == lite or catalog.get(m).capability != "image"
    ]
    job_id = submit_with(runner, db, member, "avatar", gemini_config, {})
    assert row(db, job_id).input_params["options"]["image_size"] == "4K"
    runner.wait(job_id)
    r = row(db, job_id)
    assert r.status == "completed", r.error_message
    (swap,) = r.details["model_fallbacks"]
    assert swap["used"] == lite and swap["options"] == {"image_size": "1K", "aspect_ratio": "3:4"}
    assert r.input_params["options"]["image_size"] == "1K"
    (call,) = fake_gemini.generate_calls()
    assert call.body["generationConfig"]["imageConfig"]["imageSize"] == "1K"


def test_a_worker_taken_for_dead_writes_nothing_once_another_runs_its_job(
    runner, db, store, member, gemini_config, fake_gemini
):
    """A worker cut off from the database past 3 heartbeats is taken for dead and its job is
    retried elsewhere; when it comes back it must not add its results to the row the new run
    owns, nor start another call. Here the retry's claim happens while the first run waits on
    Gemini; then its 4 variants come back."""
    gate = threading.Event()
    image_model = models()["derivation_image"]
    fake_gemini.script(*[fg.gated(gate) for _ in range(4)], model=image_model)
    job_id = submit(runner, db, member, "derivation", 1, gemini_config)
    wait_until(lambda: len(fake_gemini.generate_calls(image_model)) == 4)
    taken = generations.claim(db, job_id, "another-worker", resumes=2)  # the retry's claim
    assert taken is not None and taken.details["resumed"] == 1
    gate.set()
    wait_until(lambda: job_id not in runner._running, timeout=30)
    r = row(db, job_id)
    assert r.status == "processing" and r.worker_id == "another-worker"
    assert r.output_keys == [] and not r.details.get("failures")  # nothing of the first run
    assert len(fake_gemini.generate_calls(image_model)) == 4  # and no call after
    with db.session() as s:  # its images were not kept either
        usage = s.scalars(select(ModelUsage).where(ModelUsage.generation_id == job_id)).all()
    assert [u.images for u in usage] == [0]  # the description's, made before the retry
    generations.fail(db, job_id, "test over", owner="another-worker")
