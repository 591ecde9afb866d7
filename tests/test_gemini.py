"""The generation engine through the real google-genai SDK against the loopback fake Gemini."""

from __future__ import annotations

import dataclasses
import io
import threading
import time

import pytest
from PIL import Image

from viba import i18n
from viba.core.config import load_settings
from viba.engine import gemini, pipelines, prompts

import fake_gemini as fg
from helpers import photo

TEXT_MODEL = "gemini-3.1-pro-preview"
IMAGE_MODEL = "gemini-nano-banana-2.1"


def decode(result: gemini.ImageResult) -> Image.Image:
    img = Image.open(io.BytesIO(result.data))
    img.load()
    return img


# --- derivation -----------------------------------------------------------------------------


def photo_3mp():
    """A photo-like 3 MP input as the studio prepares it (the long side at 2048 px)."""
    from PIL import ImageFilter

    from viba.engine.images import prepare_image

    base = Image.effect_noise((2048, 1536), 60).convert("RGB").filter(ImageFilter.GaussianBlur(1))
    tint = Image.linear_gradient("L").resize((2048, 1536)).convert("RGB")
    out = io.BytesIO()
    Image.blend(base, tint, 0.5).save(out, "JPEG", quality=95)
    return prepare_image(out.getvalue(), "photo.jpg")


def test_a_derivation_uploads_its_photo_once_and_deletes_it_after(fake_gemini, gemini_config):
    ref = photo_3mp()
    assert len(ref.data) > 300_000  # a real photo's weight, not a test swatch
    fake_gemini.reset()
    pipelines.run_derivation(gemini_config, ref, TEXT_MODEL, IMAGE_MODEL)
    (upload,) = fake_gemini.uploads()
    calls = fake_gemini.generate_calls()
    assert len(calls) == 5
    uris = {uri for call in calls for uri in call.file_uris}
    assert len(uris) == 1 and all(call.inline_images == [] for call in calls)
    assert all(call.images == [("image/jpeg", ref.data)] for call in calls)
    assert upload.size == len(ref.data)  # raw bytes, not base64 in JSON
    # Sent in all: the photo once and five small JSON requests (issue 13: <= 1.5 MB; the
    # photo base64 in each of five requests was 5.48 MB).
    assert fake_gemini.bytes_sent() < len(ref.data) + 100_000
    assert fake_gemini.deleted == list(uris) and not fake_gemini.files


def test_without_the_files_api_the_photo_goes_inline(fake_gemini, gemini_config):
    ref = photo()
    fake_gemini.reset()
    fake_gemini.fail_uploads = True  # a Gemini-compatible proxy without uploads
    result = pipelines.run_derivation(gemini_config, ref, TEXT_MODEL, IMAGE_MODEL)
    assert len(result.images) == 4
    calls = fake_gemini.generate_calls()
    assert all(call.images == [("image/jpeg", ref.data)] and not call.file_uris for call in calls)
    fake_gemini.reset()
    off = dataclasses.replace(gemini_config, upload_inputs=False)  # GEMINI_UPLOAD_INPUTS=0
    pipelines.run_derivation(off, ref, TEXT_MODEL, IMAGE_MODEL)
    assert fake_gemini.uploads() == [] and len(fake_gemini.generate_calls()) == 5


def test_one_call_sends_its_inputs_inline(fake_gemini, gemini_config):
    fake_gemini.reset()
    pipelines.run_avatar(gemini_config, [photo(), photo("blue")], IMAGE_MODEL)
    assert fake_gemini.uploads() == []
    (call,) = fake_gemini.generate_calls()
    assert len(call.inline_images) == 2


def test_derivation_sends_the_described_requests(fake_gemini, gemini_config):
    ref = photo()
    result = pipelines.run_derivation(
        gemini_config, ref, TEXT_MODEL, IMAGE_MODEL, creativity=7, skin_tone="East Asian"
    )
    describe, *variants = fake_gemini.generate_calls()
    # Step 1: the text model sees the image, the structured-description prompt and its system
    # instruction, and is asked for text.
    assert (
        describe.model == TEXT_MODEL
        and describe.path == f"/v1beta/models/{TEXT_MODEL}:generateContent"
    )
    assert describe.headers["x-goog-api-key"] == "test-key-123"
    assert describe.images == [("image/jpeg", ref.data)]
    assert describe.text == prompts.DERIVATION_TEXT.render()
    assert "Visible text" in describe.text and "never invent" in describe.system
    assert describe.modalities == ["TEXT"]
    # Step 2: four image requests with the reference, the description, creativity, skin tone.
    assert len(variants) == 4 and {v.model for v in variants} == {IMAGE_MODEL}
    assert sorted(v.text for v in variants) == sorted(
        pipelines.derivation_variant_prompt(fake_gemini.description, 7, "East Asian", i)
        for i in range(1, 5)
    )
    for v in variants:
        assert v.images == [("image/jpeg", ref.data)]
        assert fake_gemini.description in v.text and "Creativity: 7/10" in v.text
        assert "skin tone of the people to East Asian" in v.text
        assert "colour grading and the lighting" in v.text
        config = v.body["generationConfig"]
        assert config["responseModalities"] == ["IMAGE"]
        assert config["imageConfig"] == {"aspectRatio": "3:4"}
        assert "temperature" not in config  # creativity is in the prompt (Gemini 3: keep 1.0)
        assert v.system == prompts.DERIVATION_IMAGE.system
    # The result carries the images, model, usage and timing.
    assert result.description.text == fake_gemini.description
    assert len(result.images) == 4 and not result.failures
    for image in result.images:
        # Gemini's JPEG at the 1K size of 3:4 (no imageSize sent: the model's default)
        assert image.mime_type == "image/jpeg" and decode(image).size == (896, 1200)
        assert image.model == IMAGE_MODEL and image.usage.output_tokens == 1120
        assert image.seconds > 0
    assert result.usage == result.description.usage + sum(
        (i.usage for i in result.images[1:]), result.images[0].usage
    )


def test_no_skin_tone_means_no_skin_instruction(fake_gemini, gemini_config):
    pipelines.run_derivation(gemini_config, photo(), TEXT_MODEL, IMAGE_MODEL, creativity=1)
    variants = fake_gemini.generate_calls(IMAGE_MODEL)
    assert all("skin tone" not in v.text and "Creativity: 1/10" in v.text for v in variants)
    assert all("temperature" not in v.body["generationConfig"] for v in variants)


def test_variants_run_concurrently(fake_gemini, gemini_config):
    # The fake holds every image request until four are in flight: a pipeline that made them
    # one after another would get errors instead of images.
    fake_gemini.barrier = threading.Barrier(4)
    result = pipelines.run_derivation(gemini_config, photo(), TEXT_MODEL, IMAGE_MODEL)
    assert len(result.images) == 4 and not result.failures


def test_variants_are_delivered_as_each_finishes(fake_gemini, gemini_config):
    gate = threading.Event()
    fake_gemini.script(fg.gated(gate), model=IMAGE_MODEL)  # the first variant waits...
    delivered: list[int] = []

    def on_variant(index, image):
        delivered.append(index)
        if len(delivered) == 3:
            gate.set()  # ...until the other three have reached us

    config = dataclasses.replace(gemini_config, retry_attempts=1)
    result = pipelines.run_derivation(
        config, photo(), TEXT_MODEL, IMAGE_MODEL, on_variant=on_variant
    )
    assert len(delivered) == 4 and len(result.images) == 4


def test_partial_failure_keeps_the_other_variants(fake_gemini, gemini_config):
    fake_gemini.script(fg.finish("IMAGE_SAFETY"), fg.error(400, "bad part"), model=IMAGE_MODEL)
    failures = []
    result = pipelines.run_derivation(
        gemini_config,
        photo(),
        TEXT_MODEL,
        IMAGE_MODEL,
        on_failure=lambda i, e: failures.append(type(e)),
    )
    assert len(result.images) == 2
    assert sorted(type(f.error).__name__ for f in result.failures) == ["BadRequest", "ImageBlocked"]
    assert sorted(f.__name__ for f in failures) == ["BadRequest", "ImageBlocked"]
    assert [i for i, v in enumerate(result.variants) if v is None] == sorted(
        f.index for f in result.failures
    )


def test_all_variants_failing_raises_the_error(fake_gemini, gemini_config):
    fake_gemini.script(*[fg.error(429, "quota")] * 4, model=IMAGE_MODEL)
    with pytest.raises(gemini.QuotaExceeded):
        pipelines.run_derivation(gemini_config, photo(), TEXT_MODEL, IMAGE_MODEL)


def test_a_failed_description_stops_before_any_image(fake_gemini, gemini_config):
    fake_gemini.script(fg.blocked_prompt("PROHIBITED_CONTENT"), model=TEXT_MODEL)
    with pytest.raises(gemini.PromptBlocked, match="PROHIBITED_CONTENT"):
        pipelines.run_derivation(gemini_config, photo(), TEXT_MODEL, IMAGE_MODEL)
    assert fake_gemini.generate_calls(IMAGE_MODEL) == []


@pytest.mark.parametrize(
    "creativity, skin_tone", [(0, None), (11, None), (5, "Green"), (2.5, None)]
)
def test_bad_derivation_options_are_refused_before_any_call(
    fake_gemini, gemini_config, creativity, skin_tone
):
    with pytest.raises(pipelines.InvalidOptions):
        pipelines.run_derivation(
            gemini_config,
            photo(),
            TEXT_MODEL,
            IMAGE_MODEL,
            creativity=creativity,
            skin_tone=skin_tone,
        )
    assert fake_gemini.requests == []


# --- avatar, try-on, swap --------------------------------------------------------------------


def test_avatar_sends_every_photo_and_the_studio_prompt(fake_gemini, gemini_config):
    photos = [photo("red"), photo("green"), photo("blue", fmt="PNG")]
    result = pipelines.run_avatar(gemini_config, photos, "gemini-3-pro-image")
    (call,) = fake_gemini.generate_calls()
    assert call.model == "gemini-3-pro-image"
    assert call.images == [(p.mime_type, p.data) for p in photos]
    assert [mime for mime, _ in call.images] == ["image/jpeg"] * 3  # a PNG goes as JPEG too
    assert call.text == pipelines.avatar_prompt(3)
    for words in (
        "gray-white",
        "white, fitted yoga outfit",
        "natural light",
        "centred",
        "exactly",
        "3:4",
    ):
        assert words in call.text
    assert call.parts[-1] == {"text": call.text}  # images first, then the instruction
    assert call.body["generationConfig"]["imageConfig"] == {"aspectRatio": "3:4"}
    assert result.model == "gemini-3-pro-image" and decode(result).format == "JPEG"


@pytest.mark.parametrize("count", [0, 4])
def test_avatar_needs_one_to_three_photos(fake_gemini, gemini_config, count):
    with pytest.raises(pipelines.InvalidOptions, match="1 to 3"):
        pipelines.run_avatar(gemini_config, [photo()] * count, IMAGE_MODEL)
    assert fake_gemini.requests == []


@pytest.mark.parametrize(
    "run, template, words",
    [
        (pipelines.run_try_on, prompts.TRY_ON, ["wearing exactly this garment", "pose"]),
        (pipelines.run_swap, prompts.SWAP, ["into the scene", "shadows"]),
    ],
)
def test_two_image_pipelines_send_person_then_other(
    fake_gemini, gemini_config, run, template, words
):
    person, other = photo("red"), photo("blue")
    result = run(gemini_config, person, other, "gemini-3-pro-image")
    (call,) = fake_gemini.generate_calls()
    assert call.model == "gemini-3-pro-image"
    assert call.images == [("image/jpeg", person.data), ("image/jpeg", other.data)]
    assert call.text == template.render(aspect_ratio="3:4") and call.system == template.system
    assert all(w in call.text for w in words)
    assert call.body["generationConfig"]["responseModalities"] == ["IMAGE"]
    # Usage as reported: the prompt's text and its two input images (560 tokens each for
    # Gemini 3 Pro Image), the 1K output image (1120).
    assert result.usage.prompt_tokens == len(call.text) // 4 + 2 * 560
    assert result.usage.output_tokens == 1120


# --- errors and retries ----------------------------------------------------------------------


def avatar(config):
    return pipelines.run_avatar(config, [photo()], IMAGE_MODEL)


@pytest.mark.parametrize(
    "answer, error_type, words",
    [
        (
            fg.error(400, "API key not valid. Please pass a valid API key."),
            gemini.InvalidApiKey,
            "API key was refused",
        ),
        (fg.error(403, "Permission denied"), gemini.InvalidApiKey, "API key was refused"),
        (
            fg.error(400, "Request contains an invalid argument."),
            gemini.BadRequest,
            "invalid argument",
        ),
        (fg.blocked_prompt("SAFETY"), gemini.PromptBlocked, r"blocked the request \(SAFETY\)"),
        (fg.finish("IMAGE_SAFETY"), gemini.ImageBlocked, "IMAGE_SAFETY"),
        (fg.finish("PROHIBITED_CONTENT"), gemini.ImageBlocked, "PROHIBITED_CONTENT"),
        (
            fg.text_only("I can't make that image, but here is a poem."),
            gemini.TextOnlyAnswer,
            "here is a poem",
        ),
        (fg.candidate_answer([]), gemini.NoImage, "no image"),
        (fg.Answer(200, {"candidates": []}), gemini.NoImage, "no image"),
    ],
)
def test_each_failure_becomes_one_typed_error(
    fake_gemini, gemini_config, answer, error_type, words
):
    fake_gemini.script(answer)
    with pytest.raises(error_type, match=words) as info:
        avatar(gemini_config)
    assert info.value.model == IMAGE_MODEL
    assert len(fake_gemini.generate_calls()) == 1  # none of these is retried


PROXY_SENTENCE = (
    f"Gemini refused the request for {IMAGE_MODEL} (error 400) with an answer that is not "
    "Gemini's own: a proxy or firewall between this server and Google may have sent it."
)


@pytest.mark.parametrize(
    "answer",
    [
        fg.proxy_page(400),
        fg.Answer(400, {}, raw=b""),  # a bare 400
        fg.Answer(400, {}, raw=b"Bad Request", content_type="text/plain"),
        fg.Answer(400, {"error": {"code": 400, "message": "<html><body>x</body></html>"}}),
    ],
)
def test_an_error_answer_that_is_not_geminis_json_is_one_sentence(
    fake_gemini, gemini_config, answer
):
    fake_gemini.script(answer)
    with pytest.raises(gemini.BadRequest) as info:
        avatar(gemini_config)
    assert str(info.value) == PROXY_SENTENCE
    assert "<" not in i18n.t(str(info.value), "zh") and "代理" in i18n.t(str(info.value), "zh")


def test_geminis_own_error_message_is_kept_on_one_line_and_cut(fake_gemini, gemini_config):
    fake_gemini.script(fg.error(400, "Invalid   value\n at 'generation_config' " + "x" * 500))
    with pytest.raises(gemini.BadRequest) as info:
        avatar(gemini_config)
    text = str(info.value)
    assert text.startswith(
        f"Gemini refused the request for {IMAGE_MODEL} (error 400): Invalid value at "
        "'generation_config' xxx"
    )
    assert "\n" not in text and text.endswith("…")
    assert len(text) < 400


def test_unknown_model_names_its_replacement(fake_gemini, gemini_config):
    with pytest.raises(gemini.ModelNotFound) as info:
        pipelines.run_avatar(gemini_config, [photo()], "gemini-3.1-flash-image-preview")
    assert info.value.replacement == "gemini-nano-banana-2.1"
    assert "gemini-3.1-flash-image-preview" in str(info.value)
    assert "Choose gemini-nano-banana-2.1 instead" in str(info.value)
    with pytest.raises(gemini.ModelNotFound, match="Choose another model"):
        pipelines.run_avatar(gemini_config, [photo()], "gemini-0-unknown")


def test_quota_is_reported_at_once_with_model_and_delay(fake_gemini, gemini_config):
    fake_gemini.script(
        fg.error(
            429,
            "Resource has been exhausted",
            details=[
                {"@type": "type.googleapis.com/google.rpc.QuotaFailure", "violations": []},
                {"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": "37s"},
            ],
        )
    )
    with pytest.raises(gemini.QuotaExceeded) as info:
        avatar(gemini_config)
    assert info.value.retry_after == 37.0
    assert str(info.value) == f"Gemini quota exhausted for {IMAGE_MODEL}. Try again in 37 seconds."
    assert len(fake_gemini.generate_calls()) == 1  # no retry storm


@pytest.mark.parametrize("code", [408, 500, 502, 503, 504])
def test_transient_errors_are_retried_then_succeed(fake_gemini, gemini_config, code):
    fake_gemini.script(fg.error(code), fg.error(code))
    assert decode(avatar(gemini_config))
    assert len(fake_gemini.generate_calls()) == 3


def test_persistent_server_errors_give_up_after_the_configured_attempts(fake_gemini, gemini_config):
    fake_gemini.script(*[fg.error(503, "The model is overloaded.")] * 5)
    with pytest.raises(gemini.ServerUnavailable, match="error 503"):
        avatar(gemini_config)
    assert len(fake_gemini.generate_calls()) == 3
    fake_gemini.reset()
    fake_gemini.script(*[fg.error(503)] * 5)
    with pytest.raises(gemini.ServerUnavailable):
        avatar(dataclasses.replace(gemini_config, retry_attempts=1))
    assert len(fake_gemini.generate_calls()) == 1


def test_timeouts_are_retried_then_reported(fake_gemini, gemini_config):
    config = dataclasses.replace(gemini_config, timeout_s=0.3, retry_attempts=2)
    fake_gemini.script(fg.hang(1.5), fg.hang(1.5))
    with pytest.raises(gemini.GenerationTimeout, match="within 0.3 seconds"):
        avatar(config)
    assert len(fake_gemini.generate_calls()) == 2
    fake_gemini.reset()
    fake_gemini.script(fg.hang(1.5))  # one slow answer, then a normal one
    assert decode(avatar(config))


def test_empty_description_is_an_error(fake_gemini, gemini_config):
    fake_gemini.script(fg.candidate_answer([{"text": "  "}]), model=TEXT_MODEL)
    with pytest.raises(gemini.EmptyAnswer):
        pipelines.run_derivation(gemini_config, photo(), TEXT_MODEL, IMAGE_MODEL)


def test_unreachable_endpoint_is_a_clear_error(gemini_config):
    config = dataclasses.replace(gemini_config, base_url="http://127.0.0.1:1/", retry_attempts=1)
    with pytest.raises(gemini.ServerUnavailable, match="could not be reached"):
        avatar(config)


# --- keys and models -------------------------------------------------------------------------


def test_key_choice_user_key_then_server_key_then_a_clear_error(tmp_path):
    settings = load_settings(
        GEMINI_API_KEY="server-key",
        GEMINI_BASE_URL="http://127.0.0.1:9/",
        VIBA_SECRETS_FILE=str(tmp_path / "none.toml"),
    )
    assert gemini.GeminiConfig.from_settings(settings, "  user-key ").api_key == "user-key"
    config = gemini.GeminiConfig.from_settings(settings, None)
    assert config.api_key == "server-key" and config.base_url == "http://127.0.0.1:9/"
    assert "server-key" not in repr(config)
    with pytest.raises(gemini.MissingApiKey, match="Profile page"):
        gemini.GeminiConfig.from_settings(load_settings(GEMINI_API_KEY=""), "")


def test_list_available_models(fake_gemini, gemini_config):
    fake_gemini.models = ["gemini-nano-banana-2.1", "gemini-3-flash-preview"]
    try:
        assert gemini.list_available_models(gemini_config) == set(fake_gemini.models)
        (call,) = fake_gemini.requests
        assert call.method == "GET" and call.path.startswith("/v1beta/models")
    finally:
        fake_gemini.models = list(fg.DEFAULT_MODELS)


def test_a_model_list_that_never_comes_ends_at_its_deadline(fake_gemini, gemini_config):
    fake_gemini.list_latency = 5.0  # per page; the page waiting for it gets a sentence
    started = time.monotonic()
    with pytest.raises(gemini.GenerationTimeout, match="within 0.5 seconds"):
        gemini.list_available_models(gemini_config, deadline_s=0.5)
    assert time.monotonic() - started < 3


def test_calls_in_flight_with_one_key_are_limited(fake_gemini, gemini_config):
    """GEMINI_MAX_CONCURRENT: a burst waits on the I/O loop instead of exceeding the key's
    share (it costs no thread while it waits)."""
    import threading

    config = dataclasses.replace(gemini_config, api_key="limited-key-123456", max_concurrent=2)
    fake_gemini.latency = 0.3
    results: list = []
    threads = [
        threading.Thread(
            target=lambda: results.append(
                gemini.generate_image(config, "gemini-nano-banana-2.1", [photo()], "Draw.")
            )
        )
        for _ in range(6)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert len(results) == 6
    assert fake_gemini.most_in_flight["limited-key-123456"] == 2


def test_the_final_image_is_kept_not_the_thoughts(fake_gemini, gemini_config):
    """Gemini 3 image models may answer [thought text, thought image, final image]; the final
    one is often a JPEG with a thought signature."""
    import base64 as b64

    from PIL import Image as PILImage

    out = io.BytesIO()
    PILImage.new("RGB", (120, 160), (10, 120, 200)).save(out, format="JPEG")
    final = out.getvalue()
    fake_gemini.script(
        fg.candidate_answer(
            fg.thinking_parts("x")
            + [
                {
                    "inlineData": {"mimeType": "image/jpeg", "data": b64.b64encode(final).decode()},
                    "thoughtSignature": b64.b64encode(b"signature").decode(),
                }
            ]
        )
    )
    result = gemini.generate_image(gemini_config, "gemini-3-pro-image", [photo()], "Draw.")
    assert result.data == final and result.mime_type == "image/jpeg"
    assert decode(result).size == (120, 160)
    assert "Planning the composition" in result.thoughts


def test_thought_text_alone_is_not_an_answer(fake_gemini, gemini_config):
    fake_gemini.script(fg.candidate_answer(fg.thinking_parts("y")[:1]))
    with pytest.raises(gemini.NoImage):
        gemini.generate_image(gemini_config, "gemini-3-pro-image", [photo()], "Draw.")


def test_the_output_size_follows_image_size_and_a_size_the_model_lacks_is_a_400(
    fake_gemini, gemini_config
):
    large = gemini.generate_image(
        gemini_config, IMAGE_MODEL, [photo()], "draw", aspect_ratio="16:9", image_size="2K"
    )
    assert decode(large).size == (2752, 1536) and large.usage.output_tokens == 1680
    for model in (IMAGE_MODEL, "gemini-3-pro-image"):  # Nano Banana 2.1 too refuses 512
        with pytest.raises(gemini.BadRequest, match="error 400"):
            gemini.generate_image(gemini_config, model, [photo()], "d", image_size="512")
