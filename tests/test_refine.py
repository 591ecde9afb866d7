"""Refinements: the whole conversation goes to the image model, signatures included."""

from __future__ import annotations

import base64
import threading

import pytest
from test_jobs import models, row, submit

from viba.jobs.runner import JobError, JobRunner
from viba.studio import generations, prompt_store, refine

import fake_gemini as fg
from helpers import queue_name


def text_of(content):
    return "\n".join(p["text"] for p in content["parts"] if "text" in p)


def test_a_refinement_sends_the_conversation_and_chains_to_its_parent(
    runner, db, member, gemini_config, fake_gemini
):
    first = submit(runner, db, member, "avatar", 1, gemini_config, image_size="1K")
    runner.wait(first)
    parent = row(db, first)
    key = parent.output_keys[0]
    signature = parent.details["outputs"][key]["signature"]
    assert base64.b64decode(signature) == b"sig"  # the fake's thoughtSignature, kept
    fake_gemini.requests.clear()
    second = runner.refine(member.id, first, key, "  a darker   background ", gemini_config)
    runner.wait(second)
    r = row(db, second)
    assert r.status == "completed", r.error_message
    assert r.parent_id == first and r.input_keys == [key] and len(r.output_keys) == 1
    assert r.input_params["refine"]["instruction"] == "a darker background"
    assert r.input_params["options"] == {"image_size": "1K", "aspect_ratio": "3:4"}
    (call,) = fake_gemini.generate_calls()
    user, model, again = call.contents
    assert user["role"] == "user" and text_of(user) == parent.input_params["prompt"]
    assert model["role"] == "model" and model["parts"][0]["thoughtSignature"] == signature
    assert again["role"] == "user" and "a darker background" in text_of(again)
    assert call.body["generationConfig"]["imageConfig"] == {"aspectRatio": "3:4", "imageSize": "1K"}
    # Refined again: five turns, the second image with its own signature.
    key2 = r.output_keys[0]
    fake_gemini.requests.clear()
    third = runner.refine(member.id, second, key2, "now in the street", gemini_config)
    runner.wait(third)
    assert row(db, third).status == "completed"
    (call,) = fake_gemini.generate_calls()
    assert [c["role"] for c in call.contents] == ["user", "model", "user", "model", "user"]
    assert text_of(call.contents[2]) == "a darker background"
    assert (
        call.contents[3]["parts"][0]["thoughtSignature"]
        == (row(db, second).details["outputs"][key2]["signature"])
    )
    assert [v.id for v in generations.children(db, member.id, first)] == [second]


def test_a_derivation_variant_is_refined_with_its_photo_and_the_prompt_it_was_made_with(
    runner, db, admin, member, gemini_config, fake_gemini
):
    step = "derivation_image"
    edited = prompt_store.builtin_prompts()[step].template.replace("Create", "Please create")
    prompt_store.save_version(db, admin, step, "Edited system.", edited)
    fake_gemini.requests.clear()
    job = submit(runner, db, member, "derivation", 1, gemini_config)
    runner.wait(job)
    parent = row(db, job)
    sent = {text_of(c.contents[0]) for c in fake_gemini.generate_calls(models()[step])}
    key = parent.output_keys[2]
    variant = parent.details["outputs"][key]["variant"]
    (made_it,) = [t for t in sent if f"variant {variant} of 4" in t]
    # The prompt is edited again before the refinement: the conversation is what was sent.
    prompt_store.save_version(db, admin, step, "Newer system.", edited.replace("Please", "Now"))
    fake_gemini.requests.clear()
    refined = runner.refine(member.id, job, key, "more contrast", gemini_config)
    runner.wait(refined)
    assert row(db, refined).status == "completed"
    (call,) = fake_gemini.generate_calls(models()[step])
    first_turn = call.contents[0]
    assert any("inlineData" in p for p in first_turn["parts"])  # the photo
    assert fake_gemini.description in made_it and "Please create" in made_it
    assert text_of(first_turn) == made_it


def test_a_refinement_is_refused_with_a_sentence_before_any_call(
    runner, db, member, admin, gemini_config, fake_gemini, monkeypatch
):
    job = submit(runner, db, member, "avatar", 1, gemini_config)
    runner.wait(job)
    key = row(db, job).output_keys[0]
    fake_gemini.requests.clear()
    for who, words, wanted, message in [
        (member, "   ", key, "Say what to change"),
        (member, "x" * 2001, key, "under 2000 characters"),
        (member, "darker", "img/" + "0" * 64 + ".png", "not one of this generation's"),
        (admin, "darker", key, r"does not exist \(or is not yours\)"),
    ]:
        with pytest.raises(JobError, match=message):
            runner.refine(who.id, job, wanted, words, gemini_config)
    monkeypatch.setattr(refine, "MAX_ROUNDS", 1)
    second = runner.refine(member.id, job, key, "darker", gemini_config)
    runner.wait(second)
    with pytest.raises(JobError, match="stops at 1 rounds"):
        runner.refine(member.id, second, row(db, second).output_keys[0], "again", gemini_config)


def test_an_output_kept_without_its_signature_goes_back_as_the_image_to_edit(
    runner, db, member, gemini_config, fake_gemini
):
    job = submit(runner, db, member, "avatar", 1, gemini_config)
    runner.wait(job)
    key = row(db, job).output_keys[0]
    generations.merge_details(db, job, outputs={key: {"signature": "", "variant": None}})
    fake_gemini.requests.clear()
    refined = runner.refine(member.id, job, key, "darker", gemini_config)
    runner.wait(refined)
    assert row(db, refined).status == "completed"
    (call,) = fake_gemini.generate_calls()
    assert [c["role"] for c in call.contents] == ["user", "user", "user"]
    assert "This is the image to edit." in text_of(call.contents[1])


def test_gemini_refuses_a_model_image_passed_back_without_its_signature(fake_gemini, gemini_config):
    from viba.engine import gemini
    from viba.engine.images import prepare_image

    from fake_gemini import png_bytes

    photo = prepare_image(png_bytes("turns"), "p.png")
    made = gemini.generate_image(gemini_config, "gemini-nano-banana-2.1", [photo], "draw")
    history = [gemini.Turn("user", "draw", [photo])]
    unsigned = gemini.Turn("model", image=made.data, mime_type=made.mime_type)
    with pytest.raises(gemini.BadRequest, match="missing a thought_signature"):
        gemini.generate_image(
            gemini_config, "gemini-nano-banana-2.1", [], "darker", history=[*history, unsigned]
        )
    signed = gemini.Turn(
        "model", image=made.data, mime_type=made.mime_type, signature=made.signature
    )
    again = gemini.generate_image(
        gemini_config, "gemini-nano-banana-2.1", [], "darker", history=[*history, signed]
    )
    assert again.data


def test_refine_from_a_card_and_the_chain_on_history(db, user, app_environ, gemini_config):
    from test_prefill import made

    from helpers import generation_rows, open_page, open_popover, wait_until

    made(db, user, "avatar", {"image_size": "1K"}, "refine-me", gemini_config=gemini_config)
    parent = generation_rows(db, user, "avatar")[-1]
    at = open_popover(open_page("pages/2_Avatar.py", user), f"refine_pop_{parent.id}_0")
    at.text_area(key=f"refine_text_{parent.id}_0").input("a darker background")
    at.button(key=f"FormSubmitter:refine_{parent.id}_0-Refine").click().run()
    assert not at.exception and not at.error
    wait_until(lambda: len(generation_rows(db, user, "avatar")) == 2)
    child = generation_rows(db, user, "avatar")[-1]
    assert child.parent_id == parent.id
    wait_until(lambda: generations.find(db, user.id, child.id).finished, timeout=20)
    at = open_page("pages/5_History.py", user, query={"id": str(child.id)})
    assert "Refined from an earlier result: “a darker background”" in [t.value for t in at.text]
    at = open_page("pages/5_History.py", user, query={"id": str(parent.id)})
    assert any(b.key == f"child_{child.id}" for b in at.button)


def test_a_refinement_whose_parent_was_deleted_meanwhile_fails_with_a_sentence(
    db, store, member, gemini_config, fake_gemini
):
    from viba.studio import history

    gate = threading.Event()
    one = JobRunner(db, store, workers=2, per_user=1, heartbeat_s=0.2, queue=queue_name())
    try:
        job = submit(one, db, member, "avatar", 1, gemini_config)
        one.wait(job)
        key = row(db, job).output_keys[0]
        fake_gemini.script(fg.gated(gate))  # holds a first job so the refinement waits
        blocker = submit(one, db, member, "avatar", 1, gemini_config)
        refined = one.refine(member.id, job, key, "darker", gemini_config)
        history.delete_generation(db, store, member.id, job)  # its parent, gone meanwhile
        gate.set()
        one.wait(blocker)
        one.wait(refined)
        r = row(db, refined)
        assert r.status == "failed" and "use Run again instead" in r.error_message
    finally:
        gate.set()
        one.shutdown()


def test_a_long_chain_sends_only_its_last_rounds(
    runner, db, member, gemini_config, fake_gemini, monkeypatch
):
    monkeypatch.setattr(refine, "CONTEXT_ROUNDS", 1)
    job = submit(runner, db, member, "avatar", 1, gemini_config)
    runner.wait(job)
    current = job
    for words in ("darker", "warmer"):
        current_row = row(db, current)
        current = runner.refine(
            member.id, current, current_row.output_keys[0], words, gemini_config
        )
        runner.wait(current)
    fake_gemini.requests.clear()
    last = runner.refine(
        member.id, current, row(db, current).output_keys[0], "evening light", gemini_config
    )
    runner.wait(last)
    assert row(db, last).status == "completed"
    (call,) = fake_gemini.generate_calls()
    # Only the round before it: the image "warmer" started from, its words, its image.
    assert [c["role"] for c in call.contents] == ["user", "model", "user"]
    start = call.contents[0]
    assert any("inlineData" in p for p in start["parts"])
    assert text_of(start) == "This is the image to edit.\nwarmer"
    assert "evening light" in text_of(call.contents[2])
