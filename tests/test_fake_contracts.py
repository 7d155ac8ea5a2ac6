"""The fakes' documented rules, walked through the real SDKs (google-genai, openai,
google-cloud-vision): a request the real service refuses is refused here too. Each rule's
source is beside it in the fake (tests/fakes/gemini.py, openai.py, vision.py)."""

from __future__ import annotations

import base64

import openai
import pytest
from google.api_core import exceptions as gexc
from google.auth.credentials import AnonymousCredentials
from google.cloud import vision
from google.genai import Client, types
from google.genai import errors as genai_errors

from tests.fakes import FakeGemini, FakeOpenAI, FakeVision
from tests.fakes.openai import MAX_AUDIO_BYTES
from tests.fakes.vision import MAX_IMAGES, MAX_REQUEST_BYTES

# == Gemini ================================================================================


@pytest.fixture
def gemini():
    with FakeGemini(responder=lambda request: {"ok": True}) as fake:
        client = Client(api_key="k", http_options=types.HttpOptions(base_url=fake.base_url))
        yield fake, client


def test_gemini_serves_current_models_and_their_alias(gemini):
    _, client = gemini
    for model in ("gemini-flash-latest", "gemini-3.8-flash"):
        assert client.models.generate_content(model=model, contents="hi").text == '{"ok": true}'
        assert client.models.get(model=model).name == f"models/{model}"


@pytest.mark.parametrize("model", ["gemini-2.5-flash", "gemini-2.0-flash", "gemini-nope"])
def test_gemini_answers_404_for_a_model_it_does_not_serve(gemini, model):
    _, client = gemini
    with pytest.raises(genai_errors.ClientError) as generate:
        client.models.generate_content(model=model, contents="hi")
    assert generate.value.code == 404 and generate.value.status == "NOT_FOUND"
    with pytest.raises(genai_errors.ClientError) as got:
        client.models.get(model=model)
    assert got.value.code == 404


def test_gemini_refuses_an_empty_text_part(gemini):
    _, client = gemini
    contents = [
        types.Content(role="user", parts=[types.Part(text="hi")]),
        types.Content(role="model", parts=[types.Part(text="")]),
        types.Content(role="user", parts=[types.Part(text="again")]),
    ]
    with pytest.raises(genai_errors.ClientError) as info:
        client.models.generate_content(model="gemini-3.8-flash", contents=contents)
    assert info.value.code == 400 and "empty text parameter" in info.value.message


def test_gemini_refuses_a_content_without_parts(gemini):
    _, client = gemini
    contents = [types.Content(role="user", parts=[])]
    with pytest.raises(genai_errors.ClientError) as info:
        client.models.generate_content(model="gemini-3.8-flash", contents=contents)
    assert info.value.code == 400


# == OpenAI ================================================================================


@pytest.fixture
def oai():
    with FakeOpenAI(transcriber=lambda name, audio, form: {"text": "hola", "language": "es"}) as f:
        yield f, openai.OpenAI(api_key="k", base_url=f.base_url + "/v1", max_retries=0)


def test_openai_answers_404_model_not_found(oai):
    _, client = oai
    with pytest.raises(openai.NotFoundError) as chat:
        client.chat.completions.create(
            model="gpt-nope", messages=[{"role": "user", "content": "hi"}]
        )
    assert chat.value.code == "model_not_found"
    with pytest.raises(openai.NotFoundError):
        client.models.retrieve("gpt-nope")
    with pytest.raises(openai.NotFoundError):
        client.audio.transcriptions.create(model="gpt-nope", file=("a.wav", b"RIFF", "audio/wav"))


def test_openai_reasoning_models_take_only_the_default_temperature(oai):
    _, client = oai
    messages = [{"role": "user", "content": "hi"}]
    with pytest.raises(openai.BadRequestError) as info:
        client.chat.completions.create(model="gpt-5.6-luna", messages=messages, temperature=0.2)
    assert info.value.param == "temperature" and info.value.code == "unsupported_value"
    assert client.chat.completions.create(model="gpt-5.6-luna", messages=messages).choices
    assert client.chat.completions.create(
        model="gpt-4.1-mini", messages=messages, temperature=0.2
    ).choices


def test_openai_models_carry_their_shutdown_date(oai):
    _, client = oai
    assert client.models.retrieve("gpt-4.1-mini").shutdown_date == "2027-01-14"
    assert client.models.retrieve("gpt-5.6-luna").shutdown_date is None


def test_gpt_transcribe_names_languages_not_language(oai):
    _, client = oai
    result = client.audio.transcriptions.create(
        model="gpt-transcribe", file=("a.flac", b"fLaC", "audio/flac")
    )
    assert [lang.code for lang in result.languages] == ["es"]
    assert "language" not in (result.model_extra or {})


def test_gpt_4o_transcribe_answers_only_json(oai):
    _, client = oai
    with pytest.raises(openai.BadRequestError):
        client.audio.transcriptions.create(
            model="gpt-4o-transcribe",
            file=("a.flac", b"fLaC", "audio/flac"),
            response_format="verbose_json",
        )


def test_openai_upload_limit_is_25_mb(oai):
    _, client = oai
    with pytest.raises(openai.APIStatusError) as info:
        client.audio.transcriptions.create(
            model="gpt-transcribe", file=("a.flac", b"0" * (MAX_AUDIO_BYTES + 1), "audio/flac")
        )
    assert info.value.status_code == 413


def test_openai_409_and_quota_as_the_sdk_sees_them(oai):
    fake, _ = oai
    retrying = openai.OpenAI(api_key="k", base_url=fake.base_url + "/v1", max_retries=1)
    fake.fail_next(409, retry_after=0.01)
    retrying.models.retrieve("gpt-5.6-luna")  # the SDK retries 409 by itself
    fake.fail_next(429, times=2, retry_after=0.01, code="insufficient_quota")
    with pytest.raises(openai.RateLimitError) as info:
        retrying.models.retrieve("gpt-5.6-luna")
    assert info.value.code == "insufficient_quota"


# == Cloud Vision ==========================================================================


@pytest.fixture
def cloud_vision():
    with FakeVision(responder=lambda image: "Serve warm") as fake:
        client = vision.ImageAnnotatorClient(
            transport="rest",
            client_options={"api_endpoint": fake.base_url},
            credentials=AnonymousCredentials(),
        )
        yield fake, client


def _requests(count: int, size: int) -> list[vision.AnnotateImageRequest]:
    return [
        vision.AnnotateImageRequest(
            image=vision.Image(content=bytes([i % 256]) * size),
            features=[vision.Feature(type_=vision.Feature.Type.TEXT_DETECTION)],
        )
        for i in range(count)
    ]


def test_vision_takes_at_most_16_images(cloud_vision):
    _, client = cloud_vision
    assert len(client.batch_annotate_images(requests=_requests(16, 10)).responses) == 16
    with pytest.raises(gexc.BadRequest):
        client.batch_annotate_images(requests=_requests(MAX_IMAGES + 1, 10), retry=None)


def test_vision_refuses_a_request_over_10_mb(cloud_vision):
    _, client = cloud_vision
    per_image = MAX_REQUEST_BYTES // 4  # 4 images: ~13 MB once base64-encoded
    with pytest.raises(gexc.BadRequest, match="payload size exceeds"):
        client.batch_annotate_images(requests=_requests(4, per_image), retry=None)
    just_under = (MAX_REQUEST_BYTES * 3 // 4 - 4096) // 2
    assert len(base64.b64encode(b"0" * just_under)) * 2 < MAX_REQUEST_BYTES
    assert len(client.batch_annotate_images(requests=_requests(2, just_under)).responses) == 2


def test_vision_per_image_errors_come_inside_a_200(cloud_vision):
    fake, client = cloud_vision
    fake.fail_images(code=3, message="Bad image data.")
    first, second = client.batch_annotate_images(requests=_requests(2, 10)).responses
    assert first.error.code == 3 and first.error.message == "Bad image data."
    assert second.text_annotations[0].description == "Serve warm"
