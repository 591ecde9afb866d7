"""The built-in text of every prompt the engine sends (the feature registry, viba.studio.features,
says which step uses which; the System Prompts page shows them and admins may override them)."""

from __future__ import annotations

from dataclasses import dataclass
from string import Formatter

SKIN_TONES = ("White", "East Asian", "Latino", "Black", "South Asian")
ASPECT_RATIO = "3:4"  # where a generation recorded none (made before ratios were chosen)


@dataclass(frozen=True)
class PromptTemplate:
    step: str
    title: str
    system: str
    template: str

    @property
    def fields(self) -> set[str]:
        return {name for _, name, _, _ in Formatter().parse(self.template) if name}

    def render(self, **values: object) -> str:
        missing = self.fields - values.keys()
        if missing:
            raise KeyError(f"prompt {self.step} needs {', '.join(sorted(missing))}")
        return self.template.format(**values)


DERIVATION_TEXT = PromptTemplate(
    step="derivation_text",
    title="Derivation, step 1: describe the image",
    system=(
        "You are a meticulous visual analyst. You describe images so precisely that an image "
        "model can recreate them. You describe only what is visible: you never invent, guess "
        "or embellish."
    ),
    template=(
        "Describe this image in a structured way, with these sections:\n"
        "1. Content: what the image shows overall, its setting and its style (photo, "
        "illustration, render...).\n"
        "2. Main subject: who or what it is, appearance, clothing, pose, expression.\n"
        "3. Spatial layout: where each element is (foreground, middle, background; left, "
        "centre, right), framing and camera angle.\n"
        "4. Relationships: how the elements relate and interact.\n"
        "5. Visible text: transcribe every piece of visible text exactly, in its original "
        "language and case; write 'none' if there is none.\n"
        "Be factual and concise. Do not describe anything you cannot see."
    ),
)

DERIVATION_IMAGE = PromptTemplate(
    step="derivation_image",
    title="Derivation, step 2: make a variant",
    system=("You are an image generation model that makes faithful variants of a reference image."),
    template=(
        "Create variant {variant} of {variants} of the reference image.\n"
        "Description of the reference:\n{description}\n\n"
        "Creativity: {creativity}/10. {creativity_guidance}\n"
        "Keep the style, the colour grading and the lighting of the reference.\n"
        "{skin_tone_instruction}"
        "Output one image in a {aspect_ratio} aspect ratio."
    ),
)

AVATAR = PromptTemplate(
    step="avatar",
    title="Avatar: studio character portrait",
    system="You are a professional studio portrait photographer and retoucher.",
    template=(
        "Create a studio character portrait of the person shown in the {photo_count} "
        "reference photo(s).\n"
        "- Identity: keep the face, features, skin tone, hair and body shape exactly; the "
        "person must be clearly recognisable.\n"
        "- Outfit: a white, fitted yoga outfit.\n"
        "- Background: a plain gray-white studio backdrop.\n"
        "- Light: soft, natural light.\n"
        "- Composition: the person centred, standing, facing the camera.\n"
        "Output one photorealistic image in a {aspect_ratio} aspect ratio."
    ),
)

TRY_ON = PromptTemplate(
    step="try_on",
    title="Try-On: person wearing the garment",
    system="You are a fashion virtual try-on system.",
    template=(
        "The first image shows a person; the second shows a garment.\n"
        "Show this person wearing exactly this garment: same colour, pattern, fabric, cut and "
        "details.\n"
        "Keep the person's identity, pose, body shape, hair, background and lighting unchanged.\n"
        "Output one photorealistic image in a {aspect_ratio} aspect ratio."
    ),
)

SWAP = PromptTemplate(
    step="swap",
    title="Swap: person composed into the scene",
    system="You are a photo compositing expert.",
    template=(
        "The first image shows a person; the second shows a scene.\n"
        "Place the person naturally into the scene: correct scale and perspective, lighting "
        "direction and colour temperature matched to the scene, and shadows and reflections "
        "consistent with it.\n"
        "Keep the person's identity, outfit and pose.\n"
        "Output one photorealistic image in a {aspect_ratio} aspect ratio."
    ),
)


def refine_instruction(instruction: str, aspect_ratio: str = ASPECT_RATIO) -> str:
    """A refinement's turn: the user's words about the last image (quoted as theirs)."""
    return (
        "Edit the last image you made as follows, and keep everything else about it the same "
        f"(people, identity, composition, style):\n{instruction}\n"
        f"Output one image in a {aspect_ratio} aspect ratio."
    )


def region_instruction(instruction: str, aspect_ratio: str = ASPECT_RATIO) -> str:
    """A region edit's turn: the part of a picture to change, and the user's words."""
    return (
        "This image is a part cut out of a larger picture. Change it as follows and keep "
        "everything else about it the same (light, colours, perspective, style), so that it "
        f"fits back in seamlessly:\n{instruction}\n"
        f"Output one image of the same framing in a {aspect_ratio} aspect ratio."
    )


def render_values(image_count: int, aspect_ratio: str = ASPECT_RATIO) -> dict[str, object]:
    """What every image prompt may use besides its own step's values ({aspect_ratio},
    {photo_count}); a template uses the ones it names."""
    return {"aspect_ratio": aspect_ratio, "photo_count": image_count}


def creativity_guidance(creativity: int) -> str:
    if creativity <= 3:
        return "Stay very close to the reference: change only small details."
    if creativity <= 7:
        return "Keep the subject and composition; vary pose, details and framing moderately."
    return "Keep the subject recognisable but reinterpret pose, composition and details freely."


def skin_tone_instruction(skin_tone: str | None) -> str:
    if not skin_tone:
        return ""
    return (
        f"Change only the skin tone of the people to {skin_tone}; keep their features, "
        "hair, clothing and everything else unchanged.\n"
    )
