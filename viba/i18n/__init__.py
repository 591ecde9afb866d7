"""English and 中文: the one translation system of the app.

A key is an id of TEXTS (short labels), or the English itself: a whole sentence of PHRASES
(viba.i18n.zh), or a message made from one with {placeholders}, read back by pattern (an error
raised in English). t() is always given the language here; the page's language is
viba.web.language's."""

from __future__ import annotations

import functools
import re

from viba.i18n.zh import PHRASES

LANGUAGES = {"en": "English", "zh": "中文"}

TEXTS: dict[str, dict[str, str]] = {
    # features and statuses
    "derivation": {"en": "Derivation", "zh": "衍生"},
    "avatar": {"en": "Avatar", "zh": "形象照"},
    "try_on": {"en": "Try-On", "zh": "试穿"},
    "swap": {"en": "Swap", "zh": "场景合成"},
    "pending": {"en": "queued", "zh": "排队中"},
    "processing": {"en": "running", "zh": "生成中"},
    "completed": {"en": "done", "zh": "已完成"},
    "failed": {"en": "failed", "zh": "失败"},
    "cancelled": {"en": "cancelled", "zh": "已取消"},
    "cancel_job": {"en": "Cancel", "zh": "取消生成"},
    "cancelled_note": {
        "en": "Cancelled: no more Gemini calls start for it; what it made is kept.",
        "zh": "已取消：不会再发起新的 Gemini 调用；已生成的内容会保留。",
    },
    "already_ended": {"en": "It had already ended.", "zh": "它已经结束了。"},
    # navigation
    "Home": {"en": "Home", "zh": "首页"},
    "Derivation": {"en": "Derivation", "zh": "衍生"},
    "Avatar": {"en": "Avatar", "zh": "形象照"},
    "Try-On": {"en": "Try-On", "zh": "试穿"},
    "Swap": {"en": "Swap", "zh": "场景合成"},
    "History": {"en": "History", "zh": "历史记录"},
    "Boards": {"en": "Boards", "zh": "看板"},
    "System Prompts": {"en": "System Prompts", "zh": "系统提示词"},
    "Profile": {"en": "Profile", "zh": "个人资料"},
    "Admin": {"en": "Admin", "zh": "管理"},
    "Log in or register": {"en": "Log in or register", "zh": "登录或注册"},
    "language": {"en": "Language", "zh": "语言"},
    "log_out": {"en": "Log out", "zh": "退出登录"},
    "signed_in_as": {"en": "Signed in as", "zh": "当前登录"},
    # boards
    "add_to_board": {"en": "Add to board", "zh": "加入看板"},
    "board": {"en": "Board", "zh": "看板"},
    "which_outputs": {"en": "Which image", "zh": "哪张图片"},
    "all_outputs": {"en": "All of them", "zh": "全部"},
    "output_n": {"en": "Image {n}", "zh": "第 {n} 张"},
    "add": {"en": "Add", "zh": "添加"},
    "added_to_board": {"en": "Added to {name}.", "zh": "已加入「{name}」。"},
    "already_on_board": {"en": "Already on {name}.", "zh": "已经在「{name}」中。"},
    "no_boards_yet": {
        "en": "No boards yet: make one on the Boards page.",
        "zh": "还没有看板：请在看板页面新建。",
    },
    "all_boards": {"en": "All boards", "zh": "全部看板"},
    "everyones_boards": {"en": "Everyone's boards (admin)", "zh": "所有人的看板（管理员）"},
    "new_board": {"en": "New board's name", "zh": "新看板名称"},
    "create_board": {"en": "Create board", "zh": "新建看板"},
    "board_role_owner": {"en": "owner", "zh": "所有者"},
    "board_role_editor": {"en": "editor", "zh": "编辑者"},
    "board_role_viewer": {"en": "viewer", "zh": "查看者"},
    "board_role_admin": {"en": "admin", "zh": "管理员"},
    "owner_is": {"en": "owned by {name}", "zh": "所有者：{name}"},
    "n_images": {"en": "{n} images", "zh": "{n} 张图片"},
    "removed_from_board": {"en": "Removed from the board.", "zh": "已从看板移除。"},
    "shared_with": {"en": "Shared with {name}.", "zh": "已与 {name} 共享。"},
    "member_removed": {"en": "No longer shared with them.", "zh": "已取消与其共享。"},
    "board_renamed": {"en": "Board renamed.", "zh": "看板已重命名。"},
    "board_deleted": {
        "en": "Board deleted; its generations are kept.",
        "zh": "看板已删除；其中的生成记录仍保留。",
    },
    "board_empty": {
        "en": "Nothing on this board yet: add images from a job card or History.",
        "zh": "看板中还没有内容：可从任务卡片或历史记录中添加图片。",
    },
    "someone": {"en": "someone", "zh": "某人"},
    "added_by": {"en": "added by {name}", "zh": "由 {name} 添加"},
    "board_members": {"en": "Members", "zh": "成员"},
    "board_private": {
        "en": "Private: only you (and admins) see it.",
        "zh": "私有：只有你（和管理员）可见。",
    },
    "leave_board": {"en": "Leave", "zh": "退出"},
    "share_with_email": {"en": "Share with (email of an account)", "zh": "共享给（账户邮箱）"},
    "board_role": {"en": "Role", "zh": "角色"},
    "share": {"en": "Share", "zh": "共享"},
    "board_settings": {"en": "Name and deletion", "zh": "名称与删除"},
    "board_name": {"en": "Name", "zh": "名称"},
    "rename": {"en": "Rename", "zh": "重命名"},
    "board_delete_sure": {
        "en": "Delete this board (its generations stay in History)",
        "zh": "删除此看板（其生成记录保留在历史记录中）",
    },
    "delete_board": {"en": "Delete board", "zh": "删除看板"},
    # share links
    "share_gone": {
        "en": "This link does not exist, has expired or was revoked.",
        "zh": "此链接不存在、已过期或已被撤销。",
    },
    "share_unavailable": {
        "en": "This page cannot be read right now; try again in a moment.",
        "zh": "此页面暂时无法读取；请稍后再试。",
    },
    "share_until": {"en": "Shared until {when}.", "zh": "共享至 {when}。"},
    "share_empty": {"en": "Nothing to show here yet.", "zh": "这里还没有内容。"},
    "share_link": {"en": "Share link", "zh": "分享链接"},
    "share_days": {"en": "Days it lasts", "zh": "有效天数"},
    "share_days_n": {"en": "{n} days from now", "zh": "{n} 天后"},
    "share_keep": {
        "en": "Keep the settings and prompt inside the images",
        "zh": "在图片中保留设置和提示词",
    },
    "make_link": {"en": "Make a link", "zh": "生成链接"},
    "link_made": {
        "en": "Anyone with this link can see it until {when} (shown once: copy it now):",
        "zh": "任何拿到此链接的人在 {when} 之前都能查看（仅显示一次：请立即复制）：",
    },
    "your_links": {"en": "Your share links", "zh": "你的分享链接"},
    "no_links": {"en": "No share links yet.", "zh": "还没有分享链接。"},
    "link_line": {
        "en": "{what} · {views} views · until {until}",
        "zh": "{what} · 查看 {views} 次 · 有效至 {until}",
    },
    "link_revoked": {"en": "revoked", "zh": "已撤销"},
    "link_expired": {"en": "expired", "zh": "已过期"},
    "revoke": {"en": "Revoke", "zh": "撤销"},
    "link_revoked_note": {"en": "The link no longer opens.", "zh": "该链接已无法打开。"},
    # one input, several models
    "compare_models": {"en": "Also make it with", "zh": "同时用以下模型生成"},
    "compare_models_help": {
        "en": "Up to 3 more image models get the same input; their results show side by "
        "side with each one's time and cost. Your model: {model}.",
        "zh": "最多再选 3 个图像模型处理同一输入；结果并排显示，并附各自的用时和费用。"
        "你的模型：{model}。",
    },
    "same_input_n": {"en": "the same input, {n} models", "zh": "同一输入，{n} 个模型"},
    "took_seconds": {"en": "{s} s", "zh": "{s} 秒"},
    # presets
    "presets_n": {"en": "Presets ({n})", "zh": "预设（{n}）"},
    "team_preset": {"en": "team", "zh": "团队"},
    "your_preset": {"en": "yours", "zh": "我的"},
    "use_preset": {"en": "Use", "zh": "使用"},
    "preset_used": {
        "en": "The form is filled in from the preset.",
        "zh": "已用该预设填写表单。",
    },
    "preset_deleted": {"en": "Preset deleted.", "zh": "预设已删除。"},
    "save_preset": {"en": "Save as preset", "zh": "存为预设"},
    "preset_name": {"en": "Preset's name", "zh": "预设名称"},
    "preset_for_team": {"en": "For the whole team", "zh": "供整个团队使用"},
    "save": {"en": "Save", "zh": "保存"},
    "preset_saved": {"en": "Saved as the preset {name}.", "zh": "已存为预设「{name}」。"},
    # region edit
    "edit_region": {"en": "Edit a region", "zh": "局部编辑"},
    "region_across": {"en": "Box: left to right (%)", "zh": "选框：从左到右（%）"},
    "region_down": {"en": "Box: top to bottom (%)", "zh": "选框：从上到下（%）"},
    "region_words": {"en": "What to change there", "zh": "那里要修改的内容"},
    "region_go": {"en": "Edit this part", "zh": "编辑这部分"},
    "region_note": {
        "en": "Only the box or the painted part changes: the model gets it with a margin "
        "around it, and its answer is pasted back inside it with a soft edge.",
        "zh": "只有选框或涂抹的部分会改变：模型收到该部分及其周边区域，"
        "其结果会以柔和边缘贴回该部分内。",
    },
    "region_mode": {"en": "Mark the part to change with", "zh": "标出要修改的部分"},
    "region_box": {"en": "A box", "zh": "选框"},
    "region_brush": {"en": "A brush", "zh": "画笔"},
    "brush_size": {"en": "Brush size", "zh": "画笔大小"},
    "brush_small": {"en": "Small", "zh": "小"},
    "brush_medium": {"en": "Medium", "zh": "中"},
    "brush_large": {"en": "Large", "zh": "大"},
    "brush_hint": {
        "en": "Paint over the part to change on the picture.",
        "zh": "在图片上涂抹要修改的部分。",
    },
    "brush_undo": {"en": "Undo", "zh": "撤销"},
    "brush_clear": {"en": "Clear", "zh": "清除"},
    # studio
    "generate": {"en": "Generate", "zh": "生成"},
    "download": {"en": "Download", "zh": "下载"},
    "full_size": {"en": "Full size", "zh": "查看原图"},
    "edit_run_again": {"en": "Edit and run again", "zh": "修改后重新生成"},
    "use_as_input": {"en": "Use as input", "zh": "用作输入"},
    "use_in": {"en": "In", "zh": "用于"},
    "filled_in": {
        "en": "Filled in from an earlier generation (nothing is uploaded again):",
        "zh": "已用之前的生成结果填入（无需重新上传）：",
    },
    "remove": {"en": "Remove", "zh": "移除"},
    "compare": {"en": "Compare", "zh": "对比"},
    "refine": {"en": "Refine", "zh": "微调"},
    "refine_what": {"en": "What should change?", "zh": "要改什么？"},
    "refine_example": {
        "en": "a darker background; remove the bag; same pose, evening light",
        "zh": "背景更暗；去掉包；同样姿势，傍晚光线",
    },
    "refinements": {"en": "Refinements", "zh": "微调记录"},
    "refined_from": {
        "en": "Refined from an earlier result: “{words}”",
        "zh": "由之前的结果微调而来：“{words}”",
    },
    "open_parent": {"en": "Open what it refines", "zh": "打开被微调的原记录"},
    "compare_n": {"en": "Compare the {n} picked", "zh": "对比已选的 {n} 张"},
    "picked_one": {
        "en": "1 image picked to compare: pick another under any result.",
        "zh": "已选 1 张用于对比：请在任一结果下再选一张。",
    },
    "compare_title": {"en": "Side by side", "zh": "并排对比"},
    "clear_picked": {"en": "Clear the picks", "zh": "清除所选"},
    "download_picked": {"en": "Download the picked (zip)", "zh": "下载所选（zip）"},
    "open_from_image": {
        "en": "Open from a downloaded image",
        "zh": "从下载的图片打开",
    },
    "drop_image": {
        "en": "An image downloaded from Viba Studio (its settings are inside)",
        "zh": "从 Viba Studio 下载的图片（其中包含生成设置）",
    },
    "no_settings_in_image": {
        "en": "This image carries no Viba Studio settings.",
        "zh": "这张图片不包含 Viba Studio 的生成设置。",
    },
    "settings_recalled": {
        "en": "Not in your History: its settings are in the {feature} form now.",
        "zh": "不在你的历史记录中：其设置已填入{feature}表单。",
    },
    "job_done": {"en": "Your {feature} is done.", "zh": "你的{feature}已完成。"},
    "job_failed": {
        "en": "Your {feature} failed: see History.",
        "zh": "你的{feature}失败了：请查看历史记录。",
    },
    "cost": {"en": "≈ ${usd}", "zh": "约 ${usd}"},
    "cost_expected": {"en": "~${usd} expected", "zh": "预计约 ${usd}"},
    "budget_left": {
        "en": "This month: ${used} of your ${budget} budget used or under way",
        "zh": "本月：预算 ${budget} 中已用或进行中 ${used}",
    },
    "generations_left": {
        "en": "{left} of {daily} generations left today (UTC)",
        "zh": "今日（UTC）还可生成 {left}/{daily} 次",
    },
    "full_size_note": {
        "en": "The image is {width} × {height} px: Download gives it whole.",
        "zh": "原图为 {width} × {height} 像素：点击下载获取完整图片。",
    },
    "download_zip": {"en": "Download all (zip)", "zh": "全部下载 (zip)"},
    "run_again": {"en": "Run again", "zh": "再次生成"},
    "open_in_history": {"en": "In history", "zh": "查看记录"},
    "description": {"en": "Description (step 1)", "zh": "图像描述（第 1 步）"},
    "model_thoughts": {"en": "The model's thoughts", "zh": "模型的思考摘要"},
    "progress": {"en": "{done} of {total} images", "zh": "已完成 {done}/{total} 张"},
    "variant_failed": {"en": "Variant {n} failed: {error}", "zh": "变体 {n} 失败：{error}"},
    "model_swapped": {
        "en": "{asked} {reason}: this used {used} instead.",
        "zh": "{asked} {reason}：本次改用了 {used}。",
    },
    "model_swapped_at": {
        "en": "{used} does not make what was asked: it made {size} · {ratio}.",
        "zh": "{used} 无法生成所要求的规格：改为生成 {size} · {ratio}。",
    },
    "variant_waiting": {"en": "Variant {n}: on its way…", "zh": "变体 {n}：生成中…"},
    "variant_missing": {"en": "Variant {n}: none", "zh": "变体 {n}：无"},
    "nothing_yet": {"en": "Nothing generated here yet.", "zh": "这里还没有生成记录。"},
    "queued": {
        "en": "Queued: it runs in the background, you can leave this page.",
        "zh": "已加入队列：在后台运行，可以离开此页面。",
    },
    "queued_again": {
        "en": "Queued again with the same inputs.",
        "zh": "已用相同输入重新加入队列。",
    },
    "recent": {"en": "Your latest", "zh": "最近生成"},
    "no_key": {
        "en": "No Gemini API key yet: add your own on Profile, or ask an admin to set "
        "GEMINI_API_KEY on the server.",
        "zh": "还没有 Gemini API 密钥：请在个人资料中添加，或请管理员在服务器上设置 "
        "GEMINI_API_KEY。",
    },
    "add_key": {"en": "Add your API key", "zh": "添加 API 密钥"},
    "images_to_derive": {"en": "Images (one job per image)", "zh": "图片（每张一个任务）"},
    "creativity": {"en": "Creativity", "zh": "创意程度"},
    "creativity_help": {
        "en": "1 stays very close to the image, 10 takes the most freedom.",
        "zh": "1 最贴近原图，10 最自由。",
    },
    "skin_tone": {"en": "Skin tone", "zh": "肤色"},
    "image_size": {"en": "Size", "zh": "尺寸"},
    "image_size_help": {
        "en": "512 px, 1K (about 1 MP), 2K (4 MP) or 4K (16 MP): larger takes longer and "
        "costs more. The chosen image model (System Prompts) decides which sizes there are.",
        "zh": "512 像素、1K（约 1 百万像素）、2K（4 百万）或 4K（16 百万）：越大越慢、费用越高。"
        "可选尺寸取决于所选图像模型（系统提示词页面）。",
    },
    "aspect_ratio": {"en": "Aspect ratio", "zh": "宽高比"},
    "ratio_auto": {"en": "Like the {role}", "zh": "跟随{role}"},
    "ratio_role_image": {"en": "image", "zh": "原图"},
    "ratio_role_person": {"en": "person photo", "zh": "人物照片"},
    "ratio_role_scene": {"en": "scene", "zh": "场景"},
    "keep_skin": {"en": "Keep as in the image", "zh": "保持原样"},
    "derivation_intro": {
        "en": "Upload images: each is described by a text model, then an image "
        "model makes 4 variants.",
        "zh": "上传图片：先由文本模型描述，再由图像模型生成 4 个变体。",
    },
    "avatar_intro": {
        "en": "1 to 3 photos of one person → a studio portrait.",
        "zh": "同一人的 1 到 3 张照片 → 一张影棚形象照。",
    },
    "reference_photos": {"en": "Reference photos (1 to 3)", "zh": "参考照片（1 到 3 张）"},
    "try_on_intro": {
        "en": "A person and a garment → the person wearing it.",
        "zh": "人物 + 服装 → 人物穿上该服装。",
    },
    "swap_intro": {
        "en": "A person and a scene → the person placed in the scene.",
        "zh": "人物 + 场景 → 把人物合成进场景。",
    },
    "person": {"en": "Person", "zh": "人物"},
    "garment": {"en": "Garment", "zh": "服装"},
    "scene": {"en": "Scene", "zh": "场景"},
    "person_source": {"en": "Person from", "zh": "人物来源"},
    "upload": {"en": "An upload", "zh": "上传图片"},
    "an_avatar": {"en": "One of my avatars", "zh": "我的形象照"},
    "pick_avatar": {"en": "Avatar", "zh": "形象照"},
    "no_avatars": {
        "en": "No finished avatars yet: make one on the Avatar page.",
        "zh": "还没有完成的形象照：请先在形象照页面生成。",
    },
    "need_files": {"en": "Add the images first.", "zh": "请先添加图片。"},
    "too_many": {"en": "At most {n} photos.", "zh": "最多 {n} 张照片。"},
    # history
    "filters": {"en": "Filters", "zh": "筛选"},
    "feature": {"en": "Feature", "zh": "功能"},
    "status": {"en": "Status", "zh": "状态"},
    "model": {"en": "Model", "zh": "模型"},
    "any_model": {"en": "Any model", "zh": "任意模型"},
    "from_day": {"en": "From (UTC)", "zh": "开始日期 (UTC)"},
    "to_day": {"en": "To (UTC, inclusive)", "zh": "结束日期 (UTC，含)"},
    "search_text": {
        "en": "Text in the description, prompt or file name",
        "zh": "描述、提示词或文件名中的文字",
    },
    "favorites_only": {"en": "Favourites only", "zh": "仅收藏"},
    "apply": {"en": "Apply", "zh": "应用"},
    "clear_filters": {"en": "Clear", "zh": "清除"},
    "newer": {"en": "Newer", "zh": "较新"},
    "older": {"en": "Older", "zh": "较早"},
    "page_n": {"en": "Page {n}", "zh": "第 {n} 页"},
    "open": {"en": "Open", "zh": "打开"},
    "favorite": {"en": "Favourite", "zh": "收藏"},
    "unfavorite": {"en": "Unfavourite", "zh": "取消收藏"},
    "delete": {"en": "Delete", "zh": "删除"},
    "confirm_delete": {
        "en": "Delete this generation and its images? This cannot be undone.",
        "zh": "删除此记录及其图片？此操作无法撤销。",
    },
    "yes_delete": {"en": "Yes, delete", "zh": "确认删除"},
    "cancel": {"en": "Cancel", "zh": "取消"},
    "deleted": {"en": "Deleted ({n} image(s) removed).", "zh": "已删除（移除了 {n} 张图片）。"},
    "inputs": {"en": "Inputs", "zh": "输入"},
    "owner": {"en": "Owner", "zh": "所有者"},
    "outputs": {"en": "Outputs", "zh": "输出"},
    "details": {"en": "Details", "zh": "详情"},
    "no_results": {"en": "No generations match these filters.", "zh": "没有符合筛选条件的记录。"},
    "no_history": {
        "en": "Nothing here yet: your generations will be listed here.",
        "zh": "还没有记录：你的生成记录会显示在这里。",
    },
    "all_generations": {"en": "All generations", "zh": "全部记录"},
    "not_yours": {
        "en": "That generation does not exist, or it is not yours.",
        "zh": "该记录不存在，或不属于你。",
    },
    "image_missing": {"en": "Image missing", "zh": "图片丢失"},
    "download_set": {"en": "Download set (zip)", "zh": "下载整组 (zip)"},
    "bad_dates": {"en": "The start day is after the end day.", "zh": "开始日期晚于结束日期。"},
}


def t(key: str, lang: str) -> str:
    """The text for key in lang: an id of TEXTS, or the English itself (viba.i18n.zh): a whole
    sentence, or a message made from one with {placeholders} (an error raised in English);
    anything else stays as it is."""
    entry = TEXTS.get(key)
    if entry is not None:
        return entry.get(lang) or entry["en"]
    if lang == "en":
        return key
    found = PHRASES.get(key)
    if found is not None:
        return found
    return _from_template(key, lang) or key


_PLACEHOLDER = re.compile(r"\{([a-z_]+)\}")


@functools.cache
def _templates() -> list[tuple[re.Pattern[str], str]]:
    """The phrases with {placeholders}, as patterns that match a message made from them
    (longest first, so the most specific wins)."""
    found = []
    for english, chinese in PHRASES.items():
        if not _PLACEHOLDER.search(english) or "{{" in english:
            continue
        pattern = re.escape(english)
        pattern = re.sub(r"\\\{([a-z_]+)\\\}", r"(?P<\1>.+?)", pattern)
        try:
            found.append((re.compile(f"^{pattern}$", re.S), chinese))
        except re.error:  # a name used twice in one phrase
            continue
    return sorted(found, key=lambda item: -len(item[0].pattern))


def _from_template(text: str, lang: str) -> str | None:
    for pattern, chinese in _templates():
        match = pattern.match(text)
        if match:
            values = {name: t(value, lang) for name, value in match.groupdict().items()}
            try:
                return chinese.format(**values)
            except (KeyError, IndexError, ValueError):
                return None
    return None


def browser_language(header: str | None) -> str:
    """The first of our languages in an Accept-Language header, by its q weights."""
    best, weight = "en", -1.0
    for part in (header or "").split(",")[:20]:
        tag, _, params = part.strip().partition(";")
        code = tag.strip().lower().split("-")[0]
        if code not in LANGUAGES:
            continue
        q = 1.0
        if params.strip().startswith("q="):
            try:
                q = float(params.strip()[2:])
            except ValueError:
                q = 0.0
        if q > weight:
            best, weight = code, q
    return best


def csv_header_in(data: bytes, lang: str) -> bytes:
    """A CSV export (UTF-8 with a BOM, as viba.studio.admin_users.to_csv writes it) with its
    header row in lang: the column names are English words, each translated; the rows are
    data."""
    if lang == "en":
        return data
    text = data.decode("utf-8-sig")
    header, newline, rest = text.partition("\r\n")
    names = [PHRASES.get(name, name) for name in header.split(",")]
    return (",".join(names) + newline + rest).encode("utf-8-sig")
