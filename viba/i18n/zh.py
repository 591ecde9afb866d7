"""中文 for the English the pages show, keyed by the English itself (viba.web.language.t looks here
after its own table). A key with {placeholders} also translates a message made from it: the
errors the domain modules raise are English sentences, and the pages pass them through t().
"""

from __future__ import annotations

PHRASES: dict[str, str] = {
    # --- login, register, password reset ------------------------------------------------
    "Viba Studio": "Viba Studio",
    "Upload": "上传",
    "{n}MB per file": "每个文件最大 {n}MB",
    "AI image studio: derivations, avatars, try-on and scene swaps.": (
        "AI 图像工作室：衍生、形象照、试穿与场景合成。"
    ),
    "Log in": "登录",
    "Register": "注册",
    "Forgot password": "忘记密码",
    "Create an account": "创建账户",
    "Email": "邮箱",
    "Password": "密码",
    "Full name": "姓名",
    "Repeat password": "再次输入密码",
    "Password: {policy}": "密码：{policy}",
    "At least 8 characters with at least one letter and one digit (at most 72 bytes).": (
        "至少 8 个字符，至少包含一个字母和一个数字（最多 72 字节）。"
    ),
    "Forgot your password?": "忘记密码？",
    "Email of your account": "你的账户邮箱",
    "Send me a reset link": "给我发送重置链接",
    "Choose a new password": "设置新密码",
    "Reset code (from the email)": "重置码（见邮件）",
    "New password": "新密码",
    "Repeat new password": "再次输入新密码",
    "Set new password": "设置新密码",
    "The two passwords are not the same.": "两次输入的密码不一致。",
    "The two new passwords are not the same.": "两次输入的新密码不一致。",
    "Your password is changed. Log in with it now.": "密码已修改，请用新密码登录。",
    "If an account exists for that email, a reset link is on its way. It is valid for 30 "
    "minutes.": "如果该邮箱有账户，重置链接已发出，30 分钟内有效。",
    "Email is not set up on this server: ask an admin to set a temporary password for you, "
    "then change it on your Profile page.": (
        "此服务器未配置邮件：请管理员为你设置临时密码，然后在个人资料页修改。"
    ),
    "Email or password is incorrect. After 5 wrong tries in a row an account is locked for "
    "15 minutes; an admin can unlock it sooner.": (
        "邮箱或密码错误。连续输错 5 次后账户将锁定 15 分钟；管理员可提前解锁。"
    ),
    "Your session has ended (you logged out elsewhere, or your password changed). Log in "
    "again.": "你的会话已结束（你在别处退出登录，或密码已修改）。请重新登录。",
    "Enter a valid email address.": "请输入有效的邮箱地址。",
    "Reset your Viba Studio password": "重置你的 Viba Studio 密码",
    "Someone asked to reset the password of your Viba Studio account.\n\n"
    "Open this link within 30 minutes to choose a new password:\n{link}\n\n"
    "Or paste this code on the reset form:\n{token}\n\n"
    "If it was not you, ignore this email; your password stays as it is.\n": (
        "有人请求重置你的 Viba Studio 账户密码。\n\n"
        "请在 30 分钟内打开此链接设置新密码：\n{link}\n\n"
        "或在重置表单中粘贴此重置码：\n{token}\n\n"
        "如果不是你本人操作，请忽略此邮件；你的密码不会改变。\n"
    ),
    "A name cannot contain control characters or line breaks.": "姓名不能包含控制字符或换行。",
    "Password is too long (at most {n} bytes).": "密码太长（最多 {n} 字节）。",
    "Enter your name.": "请输入姓名。",
    "Name is too long (at most 200 characters).": "姓名太长（最多 200 个字符）。",
    "Enter a name of 1 to 200 characters.": "请输入 1 到 200 个字符的姓名。",
    "The new password must be different from the current one.": "新密码必须与当前密码不同。",
    "Only admins can do this.": "只有管理员可以执行此操作。",
    "An account with this email already exists. Log in instead.": "该邮箱已有账户，请直接登录。",
    "The current password is not correct.": "当前密码不正确。",
    "Too many wrong passwords in a row: the account is locked for {n} minutes from the last "
    "one, logins included.": "密码连续输错次数过多：账户从最后一次起锁定 {n} 分钟，登录同样受限。",
    "No active account has that email.": "没有使用该邮箱的有效账户。",
    "No such account.": "没有这个账户。",
    "The server is busy storing other people's photos: pick yours and press Generate again in "
    "a moment.": "服务器正忙于保存其他人的照片：请稍后重新选择照片并再次点击生成。",
    "Password is too short (at least {n} characters).": "密码太短（至少 {n} 个字符）。",
    "Password needs at least one letter and one digit.": "密码需要至少一个字母和一个数字。",
    # --- home, sidebar, profile -----------------------------------------------------------
    "Welcome, {name}": "欢迎，{name}",
    "Pick a tool to start. Every generation is kept in your History.": (
        "选择一个工具开始。每次生成都会保存在你的历史记录中。"
    ),
    "admin": "管理员",
    "email verified": "邮箱已验证",
    "Name": "姓名",
    "Save name": "保存姓名",
    "Name saved.": "姓名已保存。",
    "Change password": "修改密码",
    "Current password": "当前密码",
    "Password changed. Other browsers logged in with the old one are logged out.": (
        "密码已修改。用旧密码登录的其他浏览器已退出。"
    ),
    "Where you are logged in": "你的登录位置",
    "this browser": "本浏览器",
    "logged in (UTC)": "登录时间 (UTC)",
    "last seen (UTC)": "最近活动 (UTC)",
    "browser": "浏览器",
    "address": "地址",
    "Log out everywhere": "在所有地方退出",
    "Ends every session of your account, this one too.": "结束你账户的所有会话，包括当前这个。",
    "Logged out everywhere.": "已在所有地方退出。",
    "Gemini API key": "Gemini API 密钥",
    "Your remembered key can no longer be read (the server's secret changed). Enter it "
    "again.": "已保存的密钥无法读取（服务器密钥已更换），请重新输入。",
    "Generations use **your key** {mask}{where}.": "生成使用**你的密钥** {mask}{where}。",
    " (remembered on your account)": "（已保存在你的账户中）",
    " (for this session only)": "（仅限本次会话）",
    "Generations use the **server's key**. You can use your own instead.": (
        "生成使用**服务器的密钥**。你也可以改用自己的密钥。"
    ),
    "No key yet: the server has none, so add yours to generate. Get one at "
    "[aistudio.google.com/apikey](https://aistudio.google.com/apikey).": (
        "还没有密钥：服务器没有配置，请添加你自己的密钥才能生成。可在 "
        "[aistudio.google.com/apikey](https://aistudio.google.com/apikey) 获取。"
    ),
    "Your Gemini API key": "你的 Gemini API 密钥",
    "Used instead of the server's key for your generations.": "你的生成将使用它，而不是服务器的密钥。",
    "Remember it on my account (stored encrypted)": "保存在我的账户中（加密存储）",
    "Use this key": "使用此密钥",
    "Forget my key": "忘记我的密钥",
    "Your key is forgotten.": "你的密钥已删除。",
    "Key {mask} saved{where}.": "密钥 {mask} 已保存{where}。",
    " on your account (encrypted)": "到你的账户（加密）",
    " for this session": "，仅限本次会话",
    "That does not look like a Gemini API key (one line, no spaces, from "
    "aistudio.google.com/apikey).": (
        "这看起来不像 Gemini API 密钥（应为一行、无空格，来自 aistudio.google.com/apikey）。"
    ),
    # --- system prompts -------------------------------------------------------------------
    "What each feature step sends to Gemini, and the model it uses. Your model choices are "
    "saved to your account and used by every feature.": (
        "每个功能步骤发送给 Gemini 的内容及所用模型。你的模型选择会保存到账户，并用于所有功能。"
    ),
    "Reset models to defaults": "模型恢复默认",
    "Models reset to the defaults.": "模型已恢复默认。",
    "Refresh the model list": "刷新模型列表",
    "The list of models your API key can call is asked of Gemini once an hour.": (
        "你的 API 密钥可调用的模型列表每小时向 Gemini 查询一次。"
    ),
    "Gemini's model list could not be read, so every catalog model is offered: {problem}": (
        "无法读取 Gemini 的模型列表，因此列出目录中的全部模型：{problem}"
    ),
    "Model": "模型",
    "Not offered to your key: {models} ({why}).": "你的密钥不可用：{models}（{why}）。",
    "not offered to this API key (Gemini's model list)": "此 API 密钥不可用（Gemini 模型列表）",
    "is not offered to this API key": "不对此 API 密钥开放",
    "answered 404 NOT_FOUND (renamed or shut down)": "返回了 404 NOT_FOUND（已改名或已停用）",
    "Saved: {model} for {step}.": "已保存：{step} 使用 {model}。",
    "Prompt: {version}": "提示词：{version}",
    "built-in": "内置",
    "version {n}": "版本 {n}",
    "**System instruction**": "**系统指令**",
    "**Prompt**": "**提示词**",
    "Edit this prompt (admins)": "编辑此提示词（管理员）",
    "System instruction": "系统指令",
    "Prompt": "提示词",
    "Placeholders: {fields}": "占位符：{fields}",
    "none": "无",
    "What changed (optional)": "修改说明（可选）",
    "Save as new version": "另存为新版本",
    "Saved version {n}.": "已保存版本 {n}。",
    "**Versions** (newest is active)": "**版本**（最新的为当前使用）",
    "a deleted user": "已删除的用户",
    "Restore": "恢复",
    "Restore the built-in text": "恢复内置文本",
    "Restored; it is the active prompt now.": "已恢复，现在是当前使用的提示词。",
    "Derivation, step 1: describe the image": "衍生，第 1 步：描述图像",
    "Derivation, step 2: make a variant": "衍生，第 2 步：生成变体",
    "Avatar: studio character portrait": "形象照：影棚人物肖像",
    "Try-On: person wearing the garment": "试穿：人物穿上服装",
    "Swap: person composed into the scene": "场景合成：把人物合成进场景",
    "The prompt cannot be empty.": "提示词不能为空。",
    "The prompt is too long (at most {n} characters).": "提示词太长（最多 {n} 个字符）。",
    "Unknown placeholder {names}. This step offers: {offered}.": (
        "未知占位符 {names}。此步骤可用：{offered}。"
    ),
    "This step's prompt must contain {description}: it is how the image model gets step "
    "1's description.": "此步骤的提示词必须包含 {description}：图像模型靠它获得第 1 步的描述。",
    "The prompt has a stray brace ({detail}); write {{ and }} for literal braces.": (
        "提示词中有多余的花括号（{detail}）；字面花括号请写成 {{ 和 }}。"
    ),
    "That version does not exist.": "该版本不存在。",
    "{model} cannot be used for this step.": "{model} 不能用于此步骤。",
    "Unknown step {step}.": "未知步骤 {step}。",
    # --- skin tones (sent to Gemini in English, shown translated) ------------------------
    "White": "白人",
    "East Asian": "东亚人",
    "Latino": "拉丁裔",
    "Black": "黑人",
    "South Asian": "南亚人",
    # --- admin ----------------------------------------------------------------------------
    "Section": "栏目",
    "Users": "用户",
    "Generations": "生成记录",
    "Usage": "用量",
    "Limits": "限额",
    "Audit log": "审计日志",
    "Storage": "存储",
    "rows": "行数",
    "The database holds {used} MB of its {limit} MB ({share}%).": "数据库已用 {used} MB，上限 {limit} MB（{share}%）。",
    "Past the limit the database stops taking writes: move images to object storage (VIBA_STORAGE=s3://…, python -m viba.commands.move_images) or delete old generations.": (
        "超过上限后数据库将无法写入：请把图片移到对象存储（VIBA_STORAGE=s3://…，python -m viba.commands.move_images），或删除旧的生成记录。"
    ),
    "The limit is VIBA_DATABASE_LIMIT_MB (Supabase's free database: 500 MB). Images kept in the database: {count} ({size} MB).": (
        "上限由 VIBA_DATABASE_LIMIT_MB 设定（Supabase 免费数据库：500 MB）。保存在数据库中的图片：{count} 张（{size} MB）。"
    ),
    "Email or name contains": "邮箱或姓名包含",
    "Show": "显示",
    "all": "全部",
    "active": "正常",
    "deactivated": "已停用",
    "admins": "管理员",
    "unverified": "未验证",
    "locked": "已锁定",
    "Sort by": "排序",
    "Descending": "降序",
    "email": "邮箱",
    "name": "姓名",
    "created": "创建时间",
    "last login": "最近登录",
    "updated": "更新时间",
    "type": "类型",
    "status": "状态",
    "user": "用户",
    "Rows {start}–{end} of {total}": "第 {start}–{end} 行，共 {total} 行",
    "Rows 0 of 0": "0 行",
    "Rows {start}–{end} of more than {total}": "第 {start}–{end} 行，共 {total} 行以上",
    "Previous": "上一页",
    "Next": "下一页",
    "Export CSV (all matching rows)": "导出 CSV（全部匹配行）",
    "Export CSV (these tables)": "导出 CSV（这些表格）",
    "Manage an account": "管理账户",
    "Account": "账户",
    "user account": "普通用户",
    "verified": "已验证",
    "not verified": "未验证",
    "locked until {time} UTC": "锁定至 {time} UTC",
    "Revoke admin": "撤销管理员",
    "Make admin": "设为管理员",
    "Mark verified": "标记为已验证",
    "Unlock": "解锁",
    "Deactivate": "停用",
    "Reactivate": "重新启用",
    "End sessions": "结束会话",
    "Log this account out of every browser.": "让此账户在所有浏览器退出登录。",
    "Admin role removed.": "已撤销管理员。",
    "Now an admin.": "已设为管理员。",
    "Marked verified.": "已标记为已验证。",
    "Unlocked.": "已解锁。",
    "Deactivated.": "已停用。",
    "Reactivated.": "已重新启用。",
    "**Set a temporary password**": "**设置临时密码**",
    "For someone who forgot their password when email is not set up. It also unlocks the "
    "account. Tell them to change it on their Profile page.": (
        "用于未配置邮件时忘记密码的用户。它也会解锁账户。请告知对方在个人资料页修改密码。"
    ),
    "Temporary password": "临时密码",
    "Set password": "设置密码",
    "Temporary password set for {email}.": "已为 {email} 设置临时密码。",
    "You cannot deactivate your own account.": "你不能停用自己的账户。",
    "You cannot remove your own admin role.": "你不能撤销自己的管理员身份。",
    "User email contains": "用户邮箱包含",
    "Type": "类型",
    "Status": "状态",
    "From (UTC)": "开始日期 (UTC)",
    "To (UTC, inclusive)": "结束日期 (UTC，含)",
    "Open a generation": "打开一条生成记录",
    "Open": "打开",
    "created (UTC)": "创建时间 (UTC)",
    "outputs": "输出",
    "tokens": "令牌",
    "seconds": "秒",
    "models": "模型",
    "error": "错误",
    "id": "ID",
    "full_name": "姓名",
    "is_admin": "是否管理员",
    "is_verified": "是否已验证",
    "is_active": "是否启用",
    "locked_until": "锁定至",
    "failed_logins": "登录失败次数",
    "created_at": "创建时间",
    "last_login_at": "最近登录",
    "updated_at": "更新时间",
    "user_email": "用户邮箱",
    "error_message": "错误信息",
    "actor_email": "操作者邮箱",
    "target_user_id": "目标用户 ID",
    "generation_id": "生成记录 ID",
    "table": "数据表",
    "full name": "姓名",
    "role": "角色",
    "state": "状态",
    "generations": "生成次数",
    "failed logins": "登录失败次数",
    "last login (UTC)": "最近登录 (UTC)",
    "No generations in this period.": "此期间没有生成记录。",
    "Costs are estimates: each call's tokens at the catalog's prices "
    "(viba/engine/model_catalog.toml). Calls paid with a user's own key are counted apart.": (
        "费用为估算：每次调用的令牌数乘以模型目录中的价格（viba/engine/model_catalog.toml）。"
        "使用用户自己密钥的调用单独统计。"
    ),
    "**Per user**": "**按用户**",
    "**Per model**": "**按模型**",
    "**Estimated cost per day (USD)**": "**每日估算费用 (USD)**",
    "images": "图片",
    "team_key_usd": "团队密钥 USD",
    "own_key_usd": "自有密钥 USD",
    "step": "步骤",
    "calls": "调用次数",
    "cost_usd": "费用 USD",
    "calls_without_price": "无价格的调用",
    "day": "日期",
    "model": "模型",
    "Limits apply to generations on the team's Gemini key (a user's own key is not limited). "
    "Months and days are UTC; an empty field means no limit.": (
        "限额适用于使用团队 Gemini 密钥的生成（用户自己的密钥不受限）。月和日均按 UTC；"
        "留空表示不限。"
    ),
    "**Everyone (unless set below)**": "**所有人（除非下方单独设置）**",
    "Monthly budget (USD)": "每月预算 (USD)",
    "Generations per day": "每日生成次数",
    "Save for everyone": "为所有人保存",
    "Save for this account": "为此账户保存",
    "**This account's own limits** (empty: the limits for everyone)": (
        "**此账户自己的限额**（留空：使用所有人的限额）"
    ),
    "Limits saved for everyone.": "已为所有人保存限额。",
    "Limits saved for this account.": "已为此账户保存限额。",
    "own budget (USD)": "自有预算 (USD)",
    "own daily limit": "自有每日限额",
    "spent this month (USD)": "本月已用 (USD)",
    "under way (USD)": "进行中 (USD)",
    "generations today": "今日生成",
    "budget left (USD)": "剩余预算 (USD)",
    "generations left today": "今日剩余次数",
    "Actions": "操作",
    "By (email contains)": "操作者（邮箱包含）",
    "time (UTC)": "时间 (UTC)",
    "action": "操作",
    "by": "操作者",
    "target user": "目标用户",
    "generation": "生成记录",
    "details": "详情",
    "This page is for admins. Ask an admin if you need access.": (
        "此页面仅供管理员使用。如需访问请联系管理员。"
    ),
    # audit actions
    "login": "登录",
    "login_failed": "登录失败",
    "account_locked": "账户锁定",
    "register": "注册",
    "password_changed": "修改密码",
    "password_reset": "重置密码",
    "admin_temporary_password": "管理员设置临时密码",
    "admin_granted": "授予管理员",
    "admin_revoked": "撤销管理员",
    "admin_verified_set": "管理员标记验证",
    "admin_unlocked": "管理员解锁",
    "admin_deactivated": "管理员停用账户",
    "admin_reactivated": "管理员重新启用账户",
    "generation_deleted": "删除生成记录",
    "logout": "退出登录",
    "sessions_ended": "结束会话",
    "bad_cookie": "无效 Cookie",
    "admin_limits_set": "管理员设置限额",
    "admin_model_adopted": "管理员采用模型",
    "admin_model_retired": "管理员停用模型",
    "admin_model_hidden": "管理员隐藏模型",
    "board_shared": "共享看板",
    "board_unshared": "取消共享看板",
    "board_deleted": "删除看板",
    "admin_model_rights_set": "管理员设置模型权限",
    "sso_login": "Google 登录",
    "sso_refused": "Google 登录被拒绝",
    "sso_linked": "关联 Google 登录",
    "sso_unlinked": "取消关联 Google 登录",
    # --- boards (viba.studio.boards) ---------------------------------------------------------
    "That board does not exist or is not shared with you.": "该看板不存在或未与你共享。",
    "You can look at this board but not change it.": "你可以查看此看板，但不能修改。",
    "Only the board's owner can do this.": "只有看板所有者可以这样做。",
    "Give the board a name.": "请为看板命名。",
    "A board's name cannot contain control characters.": "看板名称不能包含控制字符。",
    "A board's name can be at most {n} characters.": "看板名称最多 {n} 个字符。",
    "You have {n} boards, the most one person can have.": "你已有 {n} 个看板，已达每人上限。",
    "You already have a board named {name}.": "你已有名为「{name}」的看板。",
    "A member is an editor or a viewer.": "成员只能是编辑者或查看者。",
    "That is not an email address.": "这不是有效的邮箱地址。",
    "No active account uses {email}.": "没有使用 {email} 的有效账户。",
    "That is the board's owner.": "这是看板的所有者。",
    "A board can be shared with at most {n} people.": "一个看板最多可与 {n} 人共享。",
    "The owner cannot leave their own board; delete it instead.": "所有者不能退出自己的看板；请改为删除它。",
    "That generation is not yours to add.": "这条生成记录不属于你，无法添加。",
    "That generation has no outputs yet.": "这条生成记录还没有输出。",
    "That image is not one of the generation's outputs.": "这张图片不是该生成记录的输出。",
    "A board holds at most {n} images; this one is full.": "一个看板最多容纳 {n} 张图片；此看板已满。",
    # --- share links (viba.studio.shares) -------------------------------------------------
    "A link lasts from 1 to {n} days.": "链接有效期为 1 到 {n} 天。",
    "You have {n} live links; revoke some first.": "你已有 {n} 个有效链接；请先撤销一些。",
    "That generation is not yours to share.": "这条生成记录不属于你，无法分享。",
    "That link does not exist or is not yours.": "该链接不存在或不属于你。",
    # --- presets (viba.studio.presets) -----------------------------------------------------
    "Give the preset a name.": "请为预设命名。",
    "A preset's name cannot contain control characters.": "预设名称不能包含控制字符。",
    "A preset's name can be at most {n} characters.": "预设名称最多 {n} 个字符。",
    "Only admins make team presets.": "只有管理员可以创建团队预设。",
    "You have {n} presets, the most one person can have.": "你已有 {n} 个预设，已达每人上限。",
    "You already have a preset named {name}.": "你已有名为「{name}」的预设。",
    "That generation's images are gone; it cannot be a preset.": "该生成记录的图片已不存在，无法存为预设。",
    "That preset does not exist or is not offered to you.": "该预设不存在或未向你提供。",
    "That preset does not exist or is not yours to delete.": "该预设不存在或你无权删除。",
    # --- region edits (viba.studio.region_edit, viba.engine.region) ------------------------
    "Say what to change there, for example “a stormy sky”.": "请说明那里要修改什么，例如“暴风雨的天空”。",
    "Draw the box to change inside the image.": "请在图片内画出要修改的选框。",
    "The box is too small: make it at least {n} pixels a side.": "选框太小：每边至少 {n} 像素。",
    "The painted part is too small: paint at least {n} pixels each way.": (
        "涂抹的区域太小：横竖各至少 {n} 像素。"
    ),
    "Paint over the part of the image to change.": "请在图片上涂抹要修改的部分。",
    "Too many strokes: clear the brush and paint fewer.": "笔画太多：请清除后少画几笔。",
    # --- model rights (viba.studio.model_rights) ------------------------------------------
    "You may not use {name}: an admin chooses the models each person may pick.": (
        "你不能使用 {name}：每个人可选的模型由管理员决定。"
    ),
    "Not in the catalog: {models}.": "不在模型目录中：{models}。",
    "Leave at least one text model and one image model.": "请至少保留一个文本模型和一个图像模型。",
    "That account does not exist.": "该账户不存在。",
    "Who may pick which models": "谁可以选择哪些模型",
    "Everyone": "所有人",
    "Everyone may pick every model.": "所有人都可以选择所有模型。",
    "For (an account's email; empty: everyone)": "适用于（账户邮箱；留空：所有人）",
    "No active account uses that email.": "没有使用该邮箱的有效账户。",
    "Models they may pick": "可选择的模型",
    "Remove this list": "移除此列表",
    "Save": "保存",
    "Saved.": "已保存。",
    "Removed.": "已移除。",
    # --- sign in with Google Workspace / OIDC (viba.accounts.sso) ---------------------------
    "Sign in with Google Workspace": "使用 Google Workspace 登录",
    "The sign-in did not say who you are; try again.": "登录未返回你的身份信息；请重试。",
    "Your provider has not verified that email address.": "你的身份提供方尚未验证该邮箱地址。",
    "Accounts of that email domain cannot sign in here.": "该邮箱域名的账户不能在此登录。",
    "The sign-in did not finish; try again.": "登录未完成；请重试。",
    "An account with this email already exists: log in with its password, then link Google "
    "sign-in in Profile. (Signing in with Google never takes over an account made with a "
    "password.)": (
        "使用该邮箱的账户已存在：请用其密码登录，然后在个人资料中关联 Google 登录。"
        "（Google 登录绝不会接管用密码创建的账户。）"
    ),
    "The password is not correct.": "密码不正确。",
    "This account already signs in with Google.": "此账户已关联 Google 登录。",
    "Your session has ended. Log in again.": "你的会话已结束。请重新登录。",
    "That Google account already signs in to another account here.": (
        "该 Google 账户已关联此处的另一个账户。"
    ),
    "This account now also signs in with Google Workspace.": "此账户现在也可以使用 Google Workspace 登录。",
    "Google sign-in is no longer linked to this account.": "此账户已取消关联 Google 登录。",
    "This account also signs in with Google Workspace ({issuer}).": (
        "此账户也可以使用 Google Workspace 登录（{issuer}）。"
    ),
    "Link Google Workspace sign-in": "关联 Google Workspace 登录",
    "Unlink Google Workspace sign-in": "取消关联 Google Workspace 登录",
    "Your password": "你的密码",
    "Sign in with this account through Google Workspace too. Your password first; then Google "
    "asks which Google account.": (
        "让此账户也能通过 Google Workspace 登录。先输入密码，然后 Google 会询问使用哪个 Google 账户。"
    ),
    # --- history detail -------------------------------------------------------------------
    "Id": "ID",
    "Options": "选项",
    "Models": "模型",
    "Prompt versions": "提示词版本",
    "Inputs": "输入",
    "Tokens (total)": "令牌（合计）",
    "Cost (USD, estimated)": "费用（USD，估算）",
    "Seconds (total)": "耗时（秒，合计）",
    "Description tokens": "描述令牌",
    "Error": "错误",
    "field": "字段",
    "value": "值",
    # --- errors from the engine and the stores --------------------------------------------
    "Something went wrong on our side. Reload the page and try again.": (
        "我们这边出了点问题。请刷新页面后重试。"
    ),
    "Something went wrong on our side while generating. Try again.": "生成时我们这边出了点问题，请重试。",
    "The server is restarting for an update: try again in a minute.": "服务器正在更新重启：请一分钟后重试。",
    "No Gemini API key: add your own key on the Profile page, or ask an admin to set "
    "GEMINI_API_KEY on the server.": (
        "没有 Gemini API 密钥：请在个人资料页添加你自己的密钥，或请管理员在服务器上设置 "
        "GEMINI_API_KEY。"
    ),
    "The Gemini API key was refused (invalid, expired or without access). Check the key on "
    "your Profile page.": "Gemini API 密钥被拒绝（无效、过期或无权限）。请在个人资料页检查密钥。",
    "The model {model} is not available to this API key or no longer exists. Choose "
    "{replacement} instead (System Prompts page).": (
        "模型 {model} 对此 API 密钥不可用或已不存在。请改用 {replacement}（系统提示词页面）。"
    ),
    "The model {model} is not available to this API key or no longer exists. Choose another "
    "model on the System Prompts page.": (
        "模型 {model} 对此 API 密钥不可用或已不存在。请在系统提示词页面选择其他模型。"
    ),
    "Gemini quota exhausted for {model}. Try again in {n} seconds.": (
        "{model} 的 Gemini 配额已用完。请 {n} 秒后重试。"
    ),
    "Gemini quota exhausted for {model}. Try again later.": "{model} 的 Gemini 配额已用完。请稍后重试。",
    "Gemini ({model}) took too long to answer. Try again.": "Gemini（{model}）响应超时，请重试。",
    "Gemini ({model}) is having trouble right now (error {code}). Try again in a minute.": (
        "Gemini（{model}）当前出现问题（错误 {code}）。请一分钟后重试。"
    ),
    "Gemini refused the request for {model} (error {code}): {detail}": (
        "Gemini 拒绝了 {model} 的请求（错误 {code}）：{detail}"
    ),
    "Gemini refused the request for {model} (error {code}) with an answer that is not "
    "Gemini's own: a proxy or firewall between this server and Google may have sent it.": (
        "Gemini 拒绝了 {model} 的请求（错误 {code}），但回答并非来自 Gemini："
        "可能是本服务器与 Google 之间的代理或防火墙发出的。"
    ),
    "Gemini ({model}) returned no image. Try again.": "Gemini（{model}）没有返回图片，请重试。",
    "Gemini blocked the request ({reason}). Change the images or the options and try again.": (
        "Gemini 拦截了请求（{reason}）。请更换图片或选项后重试。"
    ),
    "Gemini would not produce this image ({reason}). Try other inputs or a lower "
    "creativity.": "Gemini 不愿生成这张图片（{reason}）。请尝试其他输入或降低创意程度。",
    "Gemini ({model}) returned no text. Try again.": "Gemini（{model}）没有返回文字，请重试。",
    "Gemini ({model}) answered with text instead of an image: “{text}”": (
        "Gemini（{model}）返回了文字而不是图片：“{text}”"
    ),
    "Gemini ({model}) sent an image that could not be read. Try again.": (
        "Gemini（{model}）发送的图片无法读取，请重试。"
    ),
    "Gemini ({model}) did not finish within {n} seconds. Try again.": (
        "Gemini（{model}）未在 {n} 秒内完成，请重试。"
    ),
    "Gemini ({model}) did not answer within {n} seconds. Try again.": (
        "Gemini（{model}）未在 {n} 秒内响应，请重试。"
    ),
    "Gemini ({model}) sent an answer that could not be read. Try again.": (
        "Gemini（{model}）的回复无法读取，请重试。"
    ),
    "Gemini could not be reached ({name}). Check the network or GEMINI_BASE_URL.": (
        "无法连接 Gemini（{name}）。请检查网络或 GEMINI_BASE_URL。"
    ),
    "Gemini could not be reached ({name}).": "无法连接 Gemini（{name}）。",
    "Gemini did not send its model list within {n} seconds.": "Gemini 未在 {n} 秒内返回模型列表。",
    "Gemini sent a model list that could not be read. Try again.": "Gemini 的模型列表无法读取，请重试。",
    "This variant failed unexpectedly.": "此变体意外失败。",
    "This variant could not be kept ({reason}).": "此变体无法保存（{reason}）。",
    "an error on our side": "我们这边的错误",
    "The database could not be reached for {n} seconds while this result was being saved, "
    "so it was not kept.": "保存结果时数据库 {n} 秒内无法连接，因此未能保存。",
    "Interrupted: the server restarted (or lost its database for too long) while this was "
    "running. Use “Run again”.": "已中断：运行期间服务器重启（或数据库长时间不可用）。请使用“再次生成”。",
    "Interrupted by a server restart, and it could not be picked up again ({reason}). Use "
    "“Run again”.": "因服务器重启而中断，且无法继续（{reason}）。请使用“再次生成”。",
    "“{name}” is empty (0 bytes). Choose another file.": "“{name}”是空文件（0 字节），请选择其他文件。",
    "“{name}” has too many pixels to be processed safely.": "“{name}”像素过多，无法安全处理。",
    "“{name}” is not an image (PNG, JPEG, WEBP or HEIC expected).": "“{name}”不是图片（应为 PNG、JPEG、WEBP 或 HEIC）。",
    "“{name}” is damaged or incomplete; upload it again.": "“{name}”已损坏或不完整，请重新上传。",
    "“{name}” is a {fmt} file; use PNG, JPEG, WEBP or HEIC.": "“{name}”是 {fmt} 文件；请使用 PNG、JPEG、WEBP 或 HEIC。",
    "“{name}” is {width}×{height} pixels; the most this studio takes is {n} megapixels.": (
        "“{name}”为 {width}×{height} 像素；本工作室最多接受 {n} 百万像素。"
    ),
    "That generation does not exist (or is not yours).": "该生成记录不存在（或不属于你）。",
    "That generation does not exist, or it is not yours.": "该生成记录不存在，或不属于你。",
    "The inputs of that generation are gone: {detail}": "该生成记录的输入图片已不存在：{detail}",
    "{name} makes images of {sizes}, not {size}: choose one of those sizes.": (
        "{name} 只能生成 {sizes} 的图片，不能生成 {size}：请选择其中一个尺寸。"
    ),
    "{name} cannot make the aspect ratio {ratio}: choose one of {ratios}.": (
        "{name} 不能生成宽高比 {ratio}：请选择 {ratios} 之一。"
    ),
    "Creativity must be a whole number from 1 to 10.": "创意程度必须是 1 到 10 的整数。",
    "This needs {low} to {high} images.": "需要 {low} 到 {high} 张图片。",
    "This needs {n} image.": "需要 {n} 张图片。",
    "This needs {n} images.": "需要 {n} 张图片。",
    "Give 1 to {n} reference photos.": "请提供 1 到 {n} 张参考照片。",
    "You have made your {daily} generations for today, your daily limit. It resets at "
    "midnight UTC, in {wait}.": "你今天已生成 {daily} 次，达到每日上限。将于 UTC 午夜重置，还有 {wait}。",
    "You have made your {daily} generation for today, your daily limit. It resets at "
    "midnight UTC, in {wait}.": "你今天已生成 {daily} 次，达到每日上限。将于 UTC 午夜重置，还有 {wait}。",
    "This would pass your monthly budget of ${budget}: ${used} is spent or under way this "
    "month and this job costs about ${cost}. It resets on {day} (UTC); your own Gemini key "
    "(Profile) is not limited.": (
        "这会超出你的每月预算 ${budget}：本月已用或进行中 ${used}，此任务约需 ${cost}。"
        "预算于 {day}（UTC）重置；使用你自己的 Gemini 密钥（个人资料页）不受限制。"
    ),
    "{h} h {m} min": "{h} 小时 {m} 分钟",
    "Say what to change, for example “a darker background”.": "请说明要改什么，例如“背景更暗”。",
    "Keep it under {n} characters.": "请少于 {n} 个字符。",
    "That image is not one of this generation's results.": "这张图片不是该生成记录的结果之一。",
    "A chain of refinements stops at {n} rounds: start anew.": "微调最多 {n} 轮：请重新开始。",
    "The generation this refines is gone: use Run again instead.": "被微调的生成记录已不存在：请改用“再次生成”。",
    "An image of this conversation is gone: use Run again instead.": "此对话中的一张图片已不存在：请改用“再次生成”。",
    "Cancelled.": "已取消。",
    "{m} min": "{m} 分钟",
    "A monthly budget is a number of dollars from 0 to 1,000,000.": "每月预算须为 0 到 1,000,000 美元。",
    "A daily limit is a whole number of generations from 0 to 100,000.": (
        "每日限额须为 0 到 100,000 的整数。"
    ),
    "Cannot store {mime} images (png, jpeg or webp only).": "无法存储 {mime} 图片（仅支持 png、jpeg 或 webp）。",
    "That is not an image that can be stored.": "这不是可以存储的图片。",
    "That stored image could not be read.": "无法读取已存储的图片。",
    "The image {key} is missing from the database.": "数据库中缺少图片 {key}。",
    "Email is not configured (SMTP_HOST is not set).": "未配置邮件（未设置 SMTP_HOST）。",
    "The email could not be sent ({name}).": "邮件无法发送（{name}）。",
    "Unknown language {language}.": "未知语言 {language}。",
    "Unknown user.": "未知用户。",
    "Unknown feature {key}.": "未知功能 {key}。",
    "The database reported an error. Try again in a moment.": "数据库报告了错误，请稍后重试。",
    "The database cannot be reached. Try again in a moment.": "无法连接数据库，请稍后重试。",
    # Admin > Models (viba.web.models_view, viba.studio.model_admin)
    "image": "图像",
    "text": "文本",
    "current": "当前",
    "preview": "预览",
    "deprecated": "已弃用",
    "shut_down": "已停用",
    "never_existed": "从未存在",
    "capability": "能力",
    "label": "名称",
    "sizes": "尺寸",
    "replacement": "替代模型",
    "source": "来源",
    "catalog file": "目录文件",
    "changed on this page": "在此页修改",
    "Listed by Gemini, not in the catalog": "Gemini 列出但目录中没有的模型",
    "Set GEMINI_API_KEY (the server's key) to see what Gemini lists.": (
        "设置 GEMINI_API_KEY（服务器的密钥）即可查看 Gemini 列出的模型。"
    ),
    "Gemini's model list could not be read.": "无法读取 Gemini 的模型列表。",
    "Every model the server's key lists is in the catalog (or hidden).": (
        "服务器密钥列出的每个模型都已在目录中（或已隐藏）。"
    ),
    "Hidden from the list": "已从列表隐藏",
    "Show again": "重新显示",
    "Shown again.": "已重新显示。",
    "Input {input} / output {output} tokens": "输入 {input} / 输出 {output} 个 token",
    "Capability": "能力",
    "Label": "名称",
    "Label in 中文": "中文名称",
    "Sizes (image models)": "尺寸（图像模型）",
    "Aspect ratios (image models)": "宽高比（图像模型）",
    "Input USD / 1M": "输入 USD / 100 万",
    "Output USD / 1M": "输出 USD / 100 万",
    "Image output USD / 1M": "图像输出 USD / 100 万",
    "Adopt": "采用",
    "Adopted: it is offered from now on.": "已采用：从现在起可供选择。",
    "Hide": "隐藏",
    "Hidden.": "已隐藏。",
    "Retire a model": "停用模型",
    "Replacement": "替代模型",
    "Retire": "停用",
    "Retired: choices of it now use the replacement.": "已停用：选择它的地方现在使用替代模型。",
    "Marked deprecated.": "已标记为弃用。",
    "A model id is letters, digits, dots and dashes, as Gemini lists it.": (
        "模型 ID 由字母、数字、点和短横线组成，与 Gemini 列出的一致。"
    ),
    "Give the model a label (how the model lists show it).": "请给模型起个名称（模型列表中显示的名字）。",
    "An adopted model is current or preview.": "采用的模型须为当前版或预览版。",
    "A model is retired as deprecated or shut down.": "停用模型时请选择“已弃用”或“已停用”。",
    "{model} is not in the catalog.": "{model} 不在目录中。",
    "A shut-down model needs a replacement for the choices that name it.": (
        "已停用的模型需要一个替代模型，供选择了它的地方使用。"
    ),
    "A model cannot replace itself.": "模型不能替代自身。",
}
