"""Every user-facing string, in English and Ukrainian (the admin commands' in texts_admin.py).
Callers use `t(lang, key, **values)`."""

from __future__ import annotations

from bot.texts_admin import ADMIN_TEXTS
from facefind.scoring.bands import RARITY_ABOUT, RARITY_FEWER

DEFAULT_LANGUAGE = "en"
LANGUAGES = ("en", "uk")


def language_of(code: str | None) -> str:
    """Telegram's language_code to one we speak: 'uk' (and 'uk-UA') is Ukrainian."""
    if code and code.lower().split("-")[0] == "uk":
        return "uk"
    return DEFAULT_LANGUAGE


def number(lang: str, n: int) -> str:
    """A whole number as the reader writes it: 20,000 (en), 20 000 (uk)."""
    text = f"{n:,}"
    return text.replace(",", "\u00a0") if lang == "uk" else text


def t(lang: str, key: str, **values: object) -> str:
    entry = TEXTS[key]
    template = entry.get(lang) or entry[DEFAULT_LANGUAGE]
    return template.format(**values) if values else template


# the strings of the administrators' commands live beside these (bot/texts_admin.py)
TEXTS: dict[str, dict[str, str]] = {
    # --- command menus --------------------------------------------------------------------
    "cmd_start": {"en": "Start", "uk": "Почати"},
    "cmd_help": {"en": "How to use the bot", "uk": "Як користуватися ботом"},
    "cmd_history": {"en": "My last lookups", "uk": "Мої останні пошуки"},
    "cmd_status": {
        "en": "Waiting and undelivered replies",
        "uk": "Черга та недоставлені відповіді",
    },
    "cmd_pending": {"en": "Access requests", "uk": "Запити на доступ"},
    "cmd_users": {"en": "All users", "uk": "Усі користувачі"},
    "cmd_approve": {"en": "Approve a user: /approve ID", "uk": "Схвалити: /approve ID"},
    "cmd_reject": {"en": "Reject a request: /reject ID", "uk": "Відхилити запит: /reject ID"},
    "cmd_revoke": {"en": "Revoke access: /revoke ID", "uk": "Скасувати доступ: /revoke ID"},
    "cmd_promote": {"en": "Make admin: /promote ID", "uk": "Зробити адміністратором: /promote ID"},
    "cmd_demote": {"en": "Remove admin: /demote ID", "uk": "Зняти адміністратора: /demote ID"},
    "cmd_enroll": {
        "en": "Add a reference face: /enroll Name | ref",
        "uk": "Додати еталонне обличчя: /enroll Ім'я | посилання",
    },
    "cmd_identity": {
        "en": "Show an identity: /identity NAME or ID",
        "uk": "Показати особу: /identity ІМ'Я або ID",
    },
    "cmd_forget": {"en": "Remove an identity: /forget ID", "uk": "Видалити особу: /forget ID"},
    "cmd_restore": {
        "en": "Restore a forgotten identity: /restore ID",
        "uk": "Відновити видалену особу: /restore ID",
    },
    "cmd_lookups": {
        "en": "Lookups: /lookups [user] [date]",
        "uk": "Пошуки: /lookups [користувач] [дата]",
    },
    "cmd_lookup": {"en": "Show a lookup: /lookup N", "uk": "Показати пошук: /lookup N"},
    "cmd_export": {"en": "CSV export: /export FROM TO", "uk": "Експорт CSV: /export ВІД ДО"},
    # --- access ---------------------------------------------------------------------------
    "access_requested": {
        "en": "Your request for access has been sent to the administrators. "
        "You will get a message when they decide.",
        "uk": "Ваш запит на доступ надіслано адміністраторам. "
        "Ви отримаєте повідомлення, коли вони ухвалять рішення.",
    },
    "access_pending": {
        "en": "Your access request is still waiting for an administrator.",
        "uk": "Ваш запит на доступ ще очікує на рішення адміністратора.",
    },
    "access_denied": {"en": "Access denied.", "uk": "Доступ заборонено."},
    "access_approved_user": {
        "en": "Your access has been approved. Send a photo to search the gallery; /help explains how.",
        "uk": "Ваш доступ схвалено. Надішліть фото, щоб шукати в галереї; /help пояснює, як це працює.",
    },
    "access_rejected_user": {
        "en": "Your access request was rejected.",
        "uk": "Ваш запит на доступ відхилено.",
    },
    "access_revoked_user": {
        "en": "Your access has been revoked.",
        "uk": "Ваш доступ скасовано.",
    },
    "admin_new_request": {
        "en": "Access request\nUser id: {id}\nName: {name}\nUsername: {username}",
        "uk": "Запит на доступ\nID: {id}\nІм'я: {name}\nІм'я користувача: {username}",
    },
    "admin_digest": {
        "en": "{n} more access requests since {since}:",
        "uk": "Ще запитів на доступ від {since}: {n}",
    },
    "admin_digest_line": {
        "en": "{id} · {name} · {username}",
        "uk": "{id} · {name} · {username}",
    },
    "admin_digest_more": {
        "en": "… and {n} more.",
        "uk": "… і ще {n}.",
    },
    "admin_digest_hint": {
        "en": "The buttons below decide for the users listed; /pending lists them all; "
        "/approve ID or /reject ID decides for any of them.",
        "uk": "Кнопки нижче ухвалюють рішення щодо перелічених користувачів; /pending показує "
        "всі запити; /approve ID або /reject ID ухвалює рішення щодо будь-якого з них.",
    },
    "admin_digest_decided": {
        "en": "{id}: {status} by {admin}.",
        "uk": "{id}: {status}, {admin}.",
    },
    "audit_alarm": {
        "en": "⚠ The audit log does not continue what facefind last witnessed: {problem}\n"
        "Someone with access to the database may have changed it. Run facefind audit verify.",
        "uk": "⚠ Журнал аудиту не продовжує те, що facefind бачив востаннє: {problem}\n"
        "Хтось із доступом до бази даних міг його змінити. Запустіть facefind audit verify.",
    },
    "audit_checkpoint": {
        "en": "Audit log check-point, {date}: {rows} rows, last row {row}, seal {seal}.\n"
        "Keep this message. `facefind audit verify --head {row}:{seal}` proves the log still "
        "holds this row unchanged, and everything before it.",
        "uk": "Контрольна точка журналу аудиту, {date}: рядків {rows}, останній рядок {row}, "
        "печатка {seal}.\nЗбережіть це повідомлення. `facefind audit verify --head {row}:{seal}` "
        "доводить, що журнал досі містить цей рядок незмінним, і все, що перед ним.",
    },
    "btn_approve": {"en": "✅ Approve", "uk": "✅ Схвалити"},
    "btn_reject": {"en": "❌ Reject", "uk": "❌ Відхилити"},
    "btn_approve_user": {"en": "✅ Approve {id} · {name}", "uk": "✅ Схвалити {id} · {name}"},
    "btn_reject_user": {"en": "❌ Reject {id}", "uk": "❌ Відхилити {id}"},
    "decided": {
        "en": "{request}\n\nDecision: {status} by {admin}.",
        "uk": "{request}\n\nРішення: {status}, {admin}.",
    },
    "status_approved": {"en": "approved", "uk": "схвалено"},
    "status_rejected": {"en": "rejected", "uk": "відхилено"},
    "status_revoked": {"en": "revoked", "uk": "скасовано"},
    "status_pending": {"en": "pending", "uk": "очікує"},
    "already_decided": {
        "en": "Already decided: {status} by {admin}.",
        "uk": "Рішення вже ухвалено: {status}, {admin}.",
    },
    "not_allowed": {
        "en": "You are not allowed to do that.",
        "uk": "Вам не дозволено це робити.",
    },
    "admin_only": {
        "en": "This command is for administrators.",
        "uk": "Ця команда лише для адміністраторів.",
    },
    # --- help -----------------------------------------------------------------------------
    "start_approved": {
        "en": "Welcome, {name}.\n\n",
        "uk": "Вітаємо, {name}.\n\n",
    },
    "help": {
        "en": "Send a photo of a person, a document or a screen. I find every face and search "
        "the gallery of enrolled identities.\n\n"
        "For the best result send the image as a file (📎 → File): Telegram compresses photos.\n\n"
        "For each face you get up to 3 candidates with their similarity and a picture of your "
        "face beside the reference face it matched. A candidate is a lead for you to verify, "
        "never an identification. When the evidence is weak you get “no confident match”.\n"
        "Use the buttons under a candidate to confirm it or mark it “not this person”.\n\n"
        "/history — your last 10 lookups\n/help — this text",
        "uk": "Надішліть фото людини, документа чи екрана. Я знайду кожне обличчя і пошукаю його "
        "в галереї внесених осіб.\n\n"
        "Для найкращого результату надсилайте зображення файлом (📎 → Файл): Telegram стискає фото.\n\n"
        "Для кожного обличчя ви отримаєте до 3 кандидатів зі схожістю та зображенням вашого "
        "обличчя поруч з еталонним, з яким його зіставлено. Кандидат — це версія для перевірки, "
        "а не встановлена особа. Коли доказів мало, ви отримаєте «немає впевненого збігу».\n"
        "Кнопками під кандидатом підтвердіть його або позначте «це не ця людина».\n\n"
        "/history — ваші останні 10 пошуків\n/help — ця довідка",
    },
    "help_admin": {
        "en": "\n\nAdministrators:\n"
        "/status — lookups waiting, replies that could not be delivered\n"
        "/pending — access requests\n/users — all users\n"
        "/approve ID, /reject ID, /revoke ID — access\n/promote ID, /demote ID — admin role\n"
        "/enroll Name | external ref — reply to a photo (or use as its caption) to add a "
        "reference face; add “| face 2” to choose a face, or use /enroll #ID for an existing "
        "identity\n"
        "/identity NAME or ID — an identity and its faces\n/forget ID — remove an identity and "
        "erase its faces\n/restore ID — undo /forget within the grace period\n"
        "/lookups [user id] [YYYY-MM-DD] — lookups\n/lookup N — show a lookup again\n"
        "/export FROM TO — CSV of lookups (dates as YYYY-MM-DD)",
        "uk": "\n\nАдміністраторам:\n"
        "/status — пошуки в черзі, відповіді, які не вдалося доставити\n"
        "/pending — запити на доступ\n/users — усі користувачі\n"
        "/approve ID, /reject ID, /revoke ID — доступ\n/promote ID, /demote ID — роль адміністратора\n"
        "/enroll Ім'я | зовнішнє посилання — відповідь на фото (або підпис до нього), щоб додати "
        "еталонне обличчя; додайте «| face 2», щоб вибрати обличчя, або /enroll #ID для наявної "
        "особи\n"
        "/identity ІМ'Я або ID — особа та її обличчя\n/forget ID — видалити особу та стерти її "
        "обличчя\n/restore ID — скасувати /forget протягом пільгового строку\n"
        "/lookups [ID користувача] [РРРР-ММ-ДД] — пошуки\n/lookup N — показати пошук знову\n"
        "/export ВІД ДО — CSV пошуків (дати як РРРР-ММ-ДД)",
    },
    "unknown_input": {
        "en": "Send a photo to search, or /help.",
        "uk": "Надішліть фото для пошуку або /help.",
    },
    # --- lookups --------------------------------------------------------------------------
    "faces_found": {
        "en": "{n} faces found. The numbers match the results below.",
        "uk": "Знайдено облич: {n}. Номери відповідають результатам нижче.",
    },
    "overview_purged": {
        "en": "{n} faces found. The picture with their numbers was removed under the retention "
        "policy; the faces are numbered from the largest down.",
        "uk": "Знайдено облич: {n}. Зображення з номерами видалено згідно з політикою "
        "зберігання; обличчя пронумеровано від найбільшого.",
    },
    "candidate": {
        "en": "Face #{index} · candidate {rank} of {total}\n{name}{ref}\n"
        "Similarity {pct}% — {band}\n"
        "Left: the face in your photo. Right: reference face #{face_id}.\n"
        "A candidate to verify, not an identification.",
        "uk": "Обличчя №{index} · кандидат {rank} з {total}\n{name}{ref}\n"
        "Схожість {pct}% — {band}\n"
        "Ліворуч: обличчя з вашого фото. Праворуч: еталонне обличчя №{face_id}.\n"
        "Кандидат для перевірки, а не встановлена особа.",
    },
    # a lead: an identity another face of the photo holds (facefind.scoring.assignment.assign_jointly)
    "lead": {
        "en": "Face #{index} · a lead, not a candidate for this face\n{name}{ref}\n"
        "Similarity {pct}% — {held}\n"
        "Left: the face in your photo. Right: reference face #{face_id}.\n"
        "One person is not two faces of one photo: compare both faces (close relatives, such as "
        "twins and siblings, look alike).",
        "uk": "Обличчя №{index} · підказка, а не кандидат для цього обличчя\n{name}{ref}\n"
        "Схожість {pct}% — {held}\n"
        "Ліворуч: обличчя з вашого фото. Праворуч: еталонне обличчя №{face_id}.\n"
        "Одна людина не може бути двома обличчями одного фото: порівняйте обидва обличчя "
        "(близькі родичі, як-от близнюки, брати й сестри, схожі).",
    },
    "lead_held_better": {
        "en": "also matches face #{other}, better there ({other_pct}%): it is that face's "
        "candidate.",
        "uk": "також збігається з обличчям №{other}, там краще ({other_pct}%): це кандидат того "
        "обличчя.",
    },
    "lead_held_score": {
        "en": "also matches face #{other} ({other_pct}% there): it is that face's candidate.",
        "uk": "також збігається з обличчям №{other} ({other_pct}% там): це кандидат того обличчя.",
    },
    "lead_held": {
        "en": "it is the candidate of face #{other}.",
        "uk": "це кандидат обличчя №{other}.",
    },
    # facefind.scoring.bands.rarity_text fills these in; English is the CLI's wording too
    "candidate_rate": {
        "en": RARITY_ABOUT,
        "uk": "Приблизно 1 з {n} людей, яких немає в галереї, отримали б таку схожість з "
        "однією з її {identities} осіб.",
    },
    "candidate_rate_rare": {
        "en": RARITY_FEWER,
        "uk": "Менше ніж 1 з {n} людей, яких немає в галереї, отримали б таку схожість з "
        "однією з її {identities} осіб.",
    },
    "candidate_low_quality_ref": {
        "en": "⚠ Matched through a low-quality reference photo of this person (the only kind "
        "enrolled for them): weaker evidence.",
        "uk": "⚠ Збіг з еталонним фото низької якості (іншого для цієї особи немає): слабші "
        "докази.",
    },
    "label_query": {"en": "your photo", "uk": "ваше фото"},
    "label_reference": {"en": "reference #{face_id}", "uk": "еталон №{face_id}"},
    "band_strong": {"en": "strong match", "uk": "сильний збіг"},
    "band_possible": {
        "en": "possible match, weak evidence",
        "uk": "можливий збіг, слабкі докази",
    },
    "ref": {"en": " [{ref}]", "uk": " [{ref}]"},
    "no_match": {
        "en": "Face #{index}: no confident match in the gallery.",
        "uk": "Обличчя №{index}: немає впевненого збігу в галереї.",
    },
    "low_quality": {
        "en": "⚠ Face #{index} is low quality ({reasons}): treat any result with extra caution.",
        "uk": "⚠ Обличчя №{index} низької якості ({reasons}): ставтеся до результату з особливою "
        "обережністю.",
    },
    "reason_small": {"en": "small face", "uk": "замале обличчя"},
    "reason_low_score": {"en": "unclear detection", "uk": "нечітке виявлення"},
    "reason_blurry": {"en": "blurry", "uk": "розмите"},
    "reason_pose": {"en": "turned away from the camera", "uk": "повернуте від камери"},
    "summary": {
        "en": "Lookup #{id} · faces: {n}.\n"
        "Candidates are possibilities for a person to check, not identifications. Close "
        "relatives (twins, siblings) can score like the person.",
        "uk": "Пошук №{id} · облич: {n}.\n"
        "Кандидати — це можливості для перевірки людиною, а не встановлення особи. Близькі "
        "родичі (близнюки, брати й сестри) можуть мати таку саму схожість.",
    },
    "no_face": {
        "en": "No face found in this photo (lookup #{id}). Try: come closer so the face fills "
        "more of the frame, use more light, have the person face the camera, or send the image "
        "as a file (📎 → File) so Telegram does not compress it.",
        "uk": "На цьому фото не знайдено обличчя (пошук №{id}). Спробуйте: підійдіть ближче, щоб "
        "обличчя займало більше кадру, додайте світла, попросіть дивитися в камеру або надішліть "
        "зображення файлом (📎 → Файл), щоб Telegram його не стискав.",
    },
    "file_too_big": {
        "en": "This file is larger than the 20 MB Telegram lets bots download. "
        "Send a smaller image, or send it as a photo.",
        "uk": "Файл більший за 20 МБ, які Telegram дозволяє завантажувати ботам. "
        "Надішліть менше зображення або надішліть його як фото.",
    },
    "not_image": {
        "en": "This file is not an image I can read. Send a photo, or a JPEG, PNG or WebP file.",
        "uk": "Цей файл не є зображенням, яке я можу прочитати. Надішліть фото або файл JPEG, "
        "PNG чи WebP.",
    },
    "image_empty": {"en": "The file is empty.", "uk": "Файл порожній."},
    "image_too_large": {
        "en": "The image is larger than the configured limit. Send a smaller image.",
        "uk": "Зображення більше за встановлену межу. Надішліть менше зображення.",
    },
    "image_too_many_pixels": {
        "en": "The image has too many pixels to process safely. Send a smaller image.",
        "uk": "Зображення має забагато пікселів для безпечної обробки. Надішліть менше.",
    },
    "image_unsupported": {
        "en": "This file is not a JPEG, PNG or WebP image.",
        "uk": "Цей файл не є зображенням JPEG, PNG чи WebP.",
    },
    "image_corrupt": {
        "en": "This image is damaged and cannot be read. Send it again, or another copy.",
        "uk": "Зображення пошкоджене й не читається. Надішліть його ще раз або іншу копію.",
    },
    "image_bad_image": {
        "en": "This image cannot be read.",
        "uk": "Це зображення неможливо прочитати.",
    },
    "download_failed": {
        "en": "I could not download this file from Telegram. Please send it again.",
        "uk": "Не вдалося завантажити файл з Telegram. Надішліть його ще раз.",
    },
    "rate_limited": {
        "en": "You have reached the limit of {limit} lookups per hour. Try again later.",
        "uk": "Ви досягли межі {limit} пошуків на годину. Спробуйте пізніше.",
    },
    "btn_confirm": {"en": "✅ Confirm", "uk": "✅ Підтвердити"},
    "btn_not_this": {"en": "❌ Not this person", "uk": "❌ Це не ця людина"},
    "feedback_confirmed": {
        "en": "✅ Confirmed by {who}.",
        "uk": "✅ Підтверджено: {who}.",
    },
    "feedback_rejected": {
        "en": "❌ Marked “not this person” by {who}.",
        "uk": "❌ Позначено «це не ця людина»: {who}.",
    },
    "feedback_saved": {"en": "Saved.", "uk": "Збережено."},
    "temporarily_unavailable": {
        "en": "The service is temporarily unavailable. Your message is kept and will be "
        "answered as soon as it is back; there is no need to send it again.",
        "uk": "Сервіс тимчасово недоступний. Ваше повідомлення збережено, і на нього буде "
        "відповідь, щойно сервіс відновиться; надсилати його ще раз не потрібно.",
    },
    "lookup_failed": {
        "en": "Lookup #{id} could not be completed because of an error on our side. "
        "The error has been logged; please send the photo again.",
        "uk": "Пошук №{id} не вдалося завершити через помилку на нашому боці. "
        "Її записано; надішліть фото ще раз.",
    },
    "lookup_crashed": {
        "en": "Lookup #{id} could not be analysed: this photo stopped the service each time it "
        "was analysed, so it was not tried again. An admin has been told.",
        "uk": "Пошук №{id} не вдалося проаналізувати: це фото щоразу зупиняло службу, тому "
        "його більше не обробляли. Адміністратора повідомлено.",
    },
    "lookup_crashed_admin": {
        "en": "⚠ Lookup #{id} from {user} was closed without an answer: the process running it "
        "died {crashes} times while it was being handled (out of memory, or a crash in native "
        "code), last {worker}. It is not tried again, and the other lookups go on. The photo "
        "may be what kills the process: see that process's log, and /lookup {id}.",
        "uk": "⚠ Пошук №{id} від {user} закрито без відповіді: процес, що його виконував, "
        "зупинявся {crashes} раз(и) під час обробки (брак пам'яті або збій у нативному коді), "
        "востаннє {worker}. Його більше не обробляють, інші пошуки тривають. Можливо, саме це "
        "фото зупиняє процес: перегляньте журнал цього процесу та /lookup {id}.",
    },
    "error_generic": {
        "en": "Something went wrong on our side. The error has been logged; please try again.",
        "uk": "Сталася помилка на нашому боці. Її записано; спробуйте ще раз.",
    },
    # --- history --------------------------------------------------------------------------
    "history_empty": {"en": "No lookups yet.", "uk": "Пошуків ще немає."},
    "history_header": {"en": "Your last lookups:", "uk": "Ваші останні пошуки:"},
    "lookups_header": {"en": "Lookups:", "uk": "Пошуки:"},
    "history_line": {
        "en": "#{id} · {date} · faces: {faces} · {top}",
        "uk": "№{id} · {date} · облич: {faces} · {top}",
    },
    "history_line_user": {
        "en": "#{id} · {date} · {actor} · faces: {faces} · {top}",
        "uk": "№{id} · {date} · {actor} · облич: {faces} · {top}",
    },
    "no_candidates": {"en": "no confident match", "uk": "немає впевненого збігу"},
    "lookup_status_error": {"en": "error", "uk": "помилка"},
    "lookup_status_pending": {"en": "in progress", "uk": "виконується"},
    "lookup_status_no_face": {"en": "no face", "uk": "немає обличчя"},
    "lookup_status_replying": {"en": "answering", "uk": "надсилається відповідь"},
    "lookup_status_undelivered": {
        "en": "answer could not be delivered",
        "uk": "відповідь не вдалося доставити",
    },
    "status_text": {
        "en": "Service status:\n· lookups waiting or being answered: {open}\n"
        "· replies given up as undelivered: {undelivered}\n"
        "· messages waiting to be handled: {inbox}\n· pending access requests: {pending}",
        "uk": "Стан сервісу:\n· пошуки в черзі або з відповіддю, що надсилається: {open}\n"
        "· відповіді, які не вдалося доставити: {undelivered}\n"
        "· повідомлення, що очікують обробки: {inbox}\n· запити на доступ: {pending}",
    },
    "lookups_usage": {
        "en": "Usage: /lookups [user id] [YYYY-MM-DD] (a day from 2000-01-01 to tomorrow)",
        "uk": "Використання: /lookups [ID користувача] [РРРР-ММ-ДД] (день від 2000-01-01 до "
        "завтра)",
    },
    "lookup_usage": {"en": "Usage: /lookup N", "uk": "Використання: /lookup N"},
    "lookup_not_found": {"en": "No lookup #{id}.", "uk": "Немає пошуку №{id}."},
    "lookup_header": {
        "en": "Lookup #{id} · {date} · by {actor} · {status} · faces: {faces}",
        "uk": "Пошук №{id} · {date} · {actor} · {status} · облич: {faces}",
    },
    "lookup_crop_purged": {
        "en": "Face #{index}: the query face image was removed under the retention policy.",
        "uk": "Обличчя №{index}: зображення видалено згідно з політикою зберігання.",
    },
    "export_usage": {
        "en": "Usage: /export FROM TO (dates as YYYY-MM-DD from 2000-01-01 to tomorrow, TO "
        "included)",
        "uk": "Використання: /export ВІД ДО (дати як РРРР-ММ-ДД від 2000-01-01 до завтра, ДО "
        "включно)",
    },
    "export_caption": {
        "en": "Lookups from {start} to {end}: {rows} rows.",
        "uk": "Пошуки з {start} по {end}: рядків {rows}.",
    },
}

TEXTS.update(ADMIN_TEXTS)
