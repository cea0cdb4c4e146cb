"""What admins read, in English and Ukrainian: lookups and the export, the database's outages,
enrollment, identities, users; read through bot.texts.t like every other string."""

ADMIN_TEXTS: dict[str, dict[str, str]] = {
    # --- lookups, export and status ------------------------------------------------------------
    "lookups_header": {"en": "Lookups:", "uk": "Пошуки:"},
    "history_line_user": {
        "en": "#{id} · {date} · {actor} · faces: {faces} · {top}",
        "uk": "№{id} · {date} · {actor} · облич: {faces} · {top}",
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
    # --- the embedded database (notices while it is down: bot/outages.py) --------------------
    "database_down": {
        "en": "⚠ The database stopped and could not be started again ({tries} tries; last "
        "error: {reason}). facefind keeps trying. Messages are kept and will be answered once "
        "it runs; its own log is {log} on the bot's machine.",
        "uk": "⚠ База даних зупинилася, і її не вдалося запустити знову (спроб: {tries}; "
        "остання помилка: {reason}). facefind пробує далі. Повідомлення збережено, на них "
        "буде відповідь, щойно вона запрацює; її власний журнал: {log} на машині бота.",
    },
    "database_back": {
        "en": "✅ The database runs again (started after {tries} failed tries). The messages "
        "kept meanwhile are being answered now.",
        "uk": "✅ База даних знову працює (запущена після {tries} невдалих спроб). На "
        "повідомлення, збережені тим часом, зараз надходять відповіді.",
    },
    # --- enrollment -----------------------------------------------------------------------
    "enroll_usage": {
        "en": "Usage: reply to a photo with /enroll Name | external reference, or send a photo "
        "with that caption. Add “| face 2” to choose a face; /enroll #ID adds to an existing "
        "identity.",
        "uk": "Використання: дайте відповідь на фото командою /enroll Ім'я | зовнішнє посилання "
        "або надішліть фото з таким підписом. Додайте «| face 2», щоб вибрати обличчя; "
        "/enroll #ID додає до наявної особи.",
    },
    "enroll_done": {
        "en": "Added a reference face to {name}{ref} (identity #{identity_id}, face #{face_id}).",
        "uk": "Додано еталонне обличчя до {name}{ref} (особа №{identity_id}, обличчя №{face_id}).",
    },
    "enroll_created": {
        "en": "A new identity was created.",
        "uk": "Створено нову особу.",
    },
    "enroll_prominent": {
        "en": "The photo has several faces: the most prominent one (large, near the centre) "
        "was used. If that is the wrong person, /forget this face's identity or enroll again "
        "with “| face N”.",
        "uk": "На фото кілька облич: використано найпомітніше (велике, ближче до центру). Якщо "
        "це не та людина, повторіть з «| face N».",
    },
    "enroll_agrees": {
        "en": "The photo has several faces: the one that matches this person's other "
        "references was used.",
        "uk": "На фото кілька облич: використано те, що збігається з іншими еталонами цієї особи.",
    },
    "enroll_flagged": {
        "en": "⚠ A low-quality reference ({reasons}), kept because this person has no better "
        "one: every match through it will say so. Add a sharper, frontal photo when you can.",
        "uk": "⚠ Еталон низької якості ({reasons}), збережений, бо кращого для цієї особи "
        "немає: кожен збіг через нього це вказуватиме. Додайте чіткіше фронтальне фото, коли "
        "зможете.",
    },
    "enroll_poor": {
        "en": "Not added: a low-quality face ({reasons}), and this person already has better "
        "references.",
        "uk": "Не додано: обличчя низької якості ({reasons}), а для цієї особи вже є кращі "
        "еталони.",
    },
    "enroll_already": {
        "en": "This photo is already enrolled for {name} (identity #{identity_id}).",
        "uk": "Це фото вже внесено для {name} (особа №{identity_id}).",
    },
    "enroll_duplicate": {
        "en": "⚠ This face also strongly matches {name} (identity #{identity_id}, {pct}%). "
        "Check that you have the right person.",
        "uk": "⚠ Це обличчя також сильно збігається з {name} (особа №{identity_id}, {pct}%). "
        "Перевірте, що це саме та людина.",
    },
    "enroll_refused": {
        "en": "This face cannot serve as a reference: {reasons}. Use a closer, more frontal photo.",
        "uk": "Це обличчя не може бути еталонним: {reasons}. Використайте ближче, більш "
        "фронтальне фото.",
    },
    "enroll_no_face": {
        "en": "No face found in this photo, nothing was enrolled.",
        "uk": "На фото не знайдено обличчя, нічого не внесено.",
    },
    "enroll_ambiguous_faces": {
        "en": "The photo has {n} faces and none is clearly the one it is of. Repeat with "
        "“| face N” using the numbers in this picture.",
        "uk": "На фото {n} облич, і жодне не є явно головним. Повторіть з «| face N», "
        "використовуючи номери на цьому зображенні.",
    },
    "enroll_face_index": {
        "en": "There is no face #{index}; the photo has {count}.",
        "uk": "Обличчя №{index} немає; на фото їх {count}.",
    },
    "enroll_ambiguous_identity": {
        "en": "Several identities are named {name}:\n{items}\n"
        "Repeat with /enroll #ID, or give a distinct external reference.",
        "uk": "Кілька осіб мають ім'я {name}:\n{items}\n"
        "Повторіть з /enroll #ID або вкажіть інше зовнішнє посилання.",
    },
    "identity_missing": {
        "en": "No active identity #{id}.",
        "uk": "Немає активної особи №{id}.",
    },
    # --- identities -----------------------------------------------------------------------
    "identity_usage": {
        "en": "Usage: /identity NAME or /identity ID",
        "uk": "Використання: /identity ІМ'Я або /identity ID",
    },
    "identity_card": {
        "en": "Identity #{id}: {name}\nExternal reference: {ref}\nNotes: {notes}\n"
        "Reference faces: {faces}\nCreated by {by}, {date}{deleted}",
        "uk": "Особа №{id}: {name}\nЗовнішнє посилання: {ref}\nНотатки: {notes}\n"
        "Еталонних облич: {faces}\nСтворено: {by}, {date}{deleted}",
    },
    "identity_deleted": {"en": "\nForgotten: {date}", "uk": "\nВидалено: {date}"},
    "identity_not_found": {
        "en": "No identity matches “{query}”.",
        "uk": "Жодна особа не відповідає «{query}».",
    },
    "identity_several": {
        "en": "Several identities match:\n{items}\nUse /identity ID.",
        "uk": "Кілька осіб відповідають запиту:\n{items}\nВикористайте /identity ID.",
    },
    "forget_usage": {"en": "Usage: /forget ID", "uk": "Використання: /forget ID"},
    "forget_done": {
        "en": "Identity #{id} ({name}) was removed from all searches. Its faces are erased for "
        "good after {until}; until then /restore {id} undoes this. The audit log keeps the record.",
        "uk": "Особу №{id} ({name}) вилучено з усіх пошуків. Її обличчя буде остаточно стерто "
        "після {until}; до того /restore {id} це скасовує. Журнал аудиту зберігає запис.",
    },
    "forget_erased": {
        "en": "Identity #{id} ({name}) was removed from all searches and erased: its reference "
        "faces, embeddings, name and reference are gone. Past lookups keep their record; the "
        "audit log keeps who did this and when.",
        "uk": "Особу №{id} ({name}) вилучено з усіх пошуків і стерто: еталонні обличчя, "
        "вектори, ім'я та посилання видалено. Минулі пошуки зберігають свій запис; журнал "
        "аудиту зберігає, хто і коли це зробив.",
    },
    "restore_usage": {"en": "Usage: /restore ID", "uk": "Використання: /restore ID"},
    "restore_restored": {
        "en": "Identity #{id} ({name}) was restored: it is searched again.",
        "uk": "Особу №{id} ({name}) відновлено: її знову шукають.",
    },
    "restore_missing": {"en": "No identity #{id}.", "uk": "Немає особи №{id}."},
    "restore_not_forgotten": {
        "en": "Identity #{id} ({name}) is not forgotten.",
        "uk": "Особа №{id} ({name}) не видалена.",
    },
    "restore_erased": {
        "en": "Identity #{id} was erased for good: there is nothing to restore.",
        "uk": "Особу №{id} остаточно стерто: відновлювати нічого.",
    },
    "restore_too_late": {
        "en": "Identity #{id} was forgotten more than {days} days ago: it can no longer be "
        "restored.",
        "uk": "Особу №{id} видалено понад {days} днів тому: її вже не можна відновити.",
    },
    "identity_forgotten_mark": {"en": " (forgotten)", "uk": " (видалено)"},
    "field_name": {"en": "The name", "uk": "Ім'я"},
    "field_external_reference": {"en": "The external reference", "uk": "Зовнішнє посилання"},
    "field_notes": {"en": "The notes", "uk": "Нотатки"},
    "bad_empty": {
        "en": "{what} is empty once control and invisible characters are removed.",
        "uk": "{what} порожнє після вилучення керівних і невидимих символів.",
    },
    "bad_too_long": {
        "en": "{what} is too long: at most {limit} characters.",
        "uk": "{what} задовге: щонайбільше {limit} символів.",
    },
    "none": {"en": "—", "uk": "—"},
    # --- users ----------------------------------------------------------------------------
    "users_header": {"en": "Users:", "uk": "Користувачі:"},
    "pending_header": {"en": "Pending access requests:", "uk": "Запити на доступ:"},
    "pending_empty": {"en": "No pending requests.", "uk": "Немає запитів, що очікують."},
    "users_empty": {"en": "No users yet.", "uk": "Користувачів ще немає."},
    "user_line": {
        "en": "{id} · {role} · {status} · {name}",
        "uk": "{id} · {role} · {status} · {name}",
    },
    "user_line_admin": {
        "en": "{id} · 🛡 ADMIN · {status} · {name}",
        "uk": "{id} · 🛡 АДМІНІСТРАТОР · {status} · {name}",
    },
    "role_admin": {"en": "admin", "uk": "адміністратор"},
    "role_officer": {"en": "officer", "uk": "слідчий"},
    "user_usage": {
        "en": "Usage: /{command} <user id>",
        "uk": "Використання: /{command} <ID користувача>",
    },
    "user_updated": {
        "en": "User {id} ({name}): {role}, {status}.",
        "uk": "Користувач {id} ({name}): {role}, {status}.",
    },
    "user_already_decided": {
        "en": "Already decided by {admin}: user {id} ({name}) is {role}, {status}. Nothing "
        "changed.",
        "uk": "Рішення вже ухвалено ({admin}): користувач {id} ({name}) — {role}, {status}. "
        "Нічого не змінено.",
    },
    "user_unchanged": {
        "en": "Nothing to change: user {id} ({name}) is {role}, {status}.",
        "uk": "Нічого змінювати: користувач {id} ({name}) — {role}, {status}.",
    },
    "admin_ids_readmits": {
        "en": "⚠ User {id} is listed in ADMIN_IDS and will be made an approved admin again at "
        "the bot's next start. To make this last, remove them from ADMIN_IDS.",
        "uk": "⚠ Користувач {id} є в ADMIN_IDS і під час наступного запуску бота знову стане "
        "схваленим адміністратором. Щоб це рішення діяло й далі, вилучіть його з ADMIN_IDS.",
    },
    "user_not_found": {
        "en": "No user with id {id}. They must write to the bot first.",
        "uk": "Немає користувача з ID {id}. Спершу він має написати боту.",
    },
    "cannot_self": {
        "en": "You cannot do that to yourself; ask another administrator.",
        "uk": "Ви не можете зробити це щодо себе; зверніться до іншого адміністратора.",
    },
}
