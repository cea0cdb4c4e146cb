"""What the investigations say, in English and Ukrainian: albums and clips, faces seen before,
edited messages, watchlists and their alerts, unknown persons."""

INVESTIGATION_TEXTS: dict[str, dict[str, str]] = {
    # --- the menus and the help ----------------------------------------------------------------
    "cmd_watch": {
        "en": "Watch an identity: /watch ID reason",
        "uk": "Стежити за особою: /watch ID причина",
    },
    "cmd_unwatch": {"en": "Stop watching: /unwatch ID", "uk": "Припинити стеження: /unwatch ID"},
    "cmd_watchlist": {"en": "Watched identities", "uk": "Особи під стеженням"},
    "cmd_unknown": {
        "en": "Unknown persons seen more than once",
        "uk": "Невідомі особи, яких бачили кілька разів",
    },
    "help_media": {
        "en": "\n\nYou can also send an album (up to 10 photos of one person: one answer for all), "
        "a short video, a round video note or a GIF (up to {seconds} s), and iPhone photos as "
        "files (HEIC).",
        "uk": "\n\nМожна також надіслати альбом (до 10 фото однієї людини: одна відповідь на "
        "всі), коротке відео, кругле відеоповідомлення чи GIF (до {seconds} с) і фото з iPhone "
        "файлом (HEIC).",
    },
    "help_admin_investigations": {
        "en": "\n/watch ID [until=YYYY-MM-DD] [to=ID,ID] [strong] reason — alert when the identity "
        "is a candidate (every admin, also for possible matches, unless told otherwise)\n"
        "/unwatch ID — stop watching\n/watchlist — who is watched\n"
        "/unknown — faces photographed more than once that nobody has named; /unknown N — their "
        "photos; /unknown N name Name | ref — make them an identity; /unknown N dismiss — a "
        "wrong grouping\nAn album with /enroll Name | ref as its caption enrolls all its photos.",
        "uk": "\n/watch ID [until=РРРР-ММ-ДД] [to=ID,ID] [strong] причина — сповіщати, коли особа "
        "є кандидатом (усіх адміністраторів, також для можливих збігів, якщо не вказано інше)\n"
        "/unwatch ID — припинити стеження\n/watchlist — за ким стежимо\n"
        "/unknown — обличчя, сфотографовані кілька разів, яких ніхто не назвав; /unknown N — їхні "
        "фото; /unknown N name Ім'я | посилання — зробити особою; /unknown N dismiss — хибне "
        "групування\nАльбом з підписом /enroll Ім'я | посилання вносить усі його фото.",
    },
    # --- albums and clips ----------------------------------------------------------------------
    "summary_album": {
        "en": "Lookup #{id} · an album of {photos} photos · people: {n}.\n"
        "The faces of one person across the photos are searched together. Candidates are "
        "possibilities for a person to check, not identifications.",
        "uk": "Пошук №{id} · альбом з {photos} фото · осіб: {n}.\n"
        "Обличчя однієї людини з різних фото шукаються разом. Кандидати — це можливості для "
        "перевірки людиною, а не встановлення особи.",
    },
    "summary_clip": {
        "en": "Lookup #{id} · a clip · people: {n}.\n"
        "The faces of one person across the frames are searched together. Candidates are "
        "possibilities for a person to check, not identifications.",
        "uk": "Пошук №{id} · відео · осіб: {n}.\n"
        "Обличчя однієї людини з різних кадрів шукаються разом. Кандидати — це можливості для "
        "перевірки людиною, а не встановлення особи.",
    },
    "album_person": {
        "en": "Face #{index} is in {n} of the album's photos (its best picture: photo {photo}).",
        "uk": "Обличчя №{index} є на {n} фото альбому (найкраще — фото {photo}).",
    },
    "clip_frame": {
        "en": "Face #{index}: the best frame, at {time} (seen in {n} of the frames looked at).",
        "uk": "Обличчя №{index}: найкращий кадр, на {time} (видно на {n} з переглянутих кадрів).",
    },
    "clip_frame_purged": {
        "en": "Face #{index}: its frame was removed under the retention policy.",
        "uk": "Обличчя №{index}: кадр видалено згідно з політикою зберігання.",
    },
    "no_face_album": {
        "en": "No face found in the photos of this album (lookup #{id}). Send clearer photos, "
        "closer to the face.",
        "uk": "На фото цього альбому не знайдено обличчя (пошук №{id}). Надішліть чіткіші фото, "
        "ближче до обличчя.",
    },
    "no_face_clip": {
        "en": "No face found in this clip (lookup #{id}). Film closer to the face, in more "
        "light, or send a photo.",
        "uk": "У цьому відео не знайдено обличчя (пошук №{id}). Знімайте ближче до обличчя, при "
        "кращому світлі, або надішліть фото.",
    },
    "faces_left_out": {
        "en": "⚠ {n} more faces were found but not searched (at most {limit} a photo, the largest "
        "first): crop the photo around the faces you need and send them on their own.",
        "uk": "⚠ Ще {n} облич знайдено, але не шукано (не більше {limit} на фото, від "
        "найбільшого): обріжте фото навколо потрібних облич і надішліть їх окремо.",
    },
    "people_left_out": {
        "en": "⚠ {n} more people were seen in the clip but not searched (at most {limit}, the most "
        "often seen first).",
        "uk": "⚠ Ще {n} осіб видно у відео, але їх не шукано (не більше {limit}, від тих, кого "
        "видно найчастіше).",
    },
    "clip_too_large": {
        "en": "This clip is larger than the {mb} MB I analyse. Send a shorter one.",
        "uk": "Це відео більше за {mb} МБ, які я аналізую. Надішліть коротше.",
    },
    "clip_too_long": {
        "en": "This clip is longer than the {seconds} s I analyse. Send a shorter one, or a photo.",
        "uk": "Це відео довше за {seconds} с, які я аналізую. Надішліть коротше або фото.",
    },
    "clip_too_many_frames": {
        "en": "This clip has more frames than I analyse ({frames}). Send a shorter one.",
        "uk": "Це відео має більше кадрів, ніж я аналізую ({frames}). Надішліть коротше.",
    },
    "clip_too_many_pixels": {
        "en": "This clip's frames are larger than Full HD. Send it as an ordinary video (not as "
        "a file), or a photo.",
        "uk": "Кадри цього відео більші за Full HD. Надішліть його звичайним відео (не файлом) "
        "або фото.",
    },
    "clip_unsupported": {
        "en": "I cannot read this clip (MP4, MOV, WebM or GIF with H.264, HEVC, VP8, VP9 or AV1).",
        "uk": "Не можу прочитати це відео (MP4, MOV, WebM чи GIF з H.264, HEVC, VP8, VP9 або AV1).",
    },
    "clip_corrupt": {
        "en": "This clip is damaged and cannot be read. Send it again.",
        "uk": "Відео пошкоджене й не читається. Надішліть його ще раз.",
    },
    "clip_empty": {"en": "The clip is empty.", "uk": "Відео порожнє."},
    "clip_bad_image": {"en": "This clip cannot be read.", "uk": "Це відео неможливо прочитати."},
    # --- seen before ---------------------------------------------------------------------------
    "seen_before": {
        "en": "The same face was photographed {times} before: {when}.",
        "uk": "Це саме обличчя вже фотографували {times}: {when}.",
    },
    "seen_before_last": {
        "en": "The same face was photographed {times} before, most recently: {when}.",
        "uk": "Це саме обличчя вже фотографували {times}, востаннє: {when}.",
    },
    "seen_by": {
        "en": "— {when}: by {who}, lookup #{id}",
        "uk": "— {when}: {who}, пошук №{id}",
    },
    "times_one": {"en": "{n} time", "uk": "{n} раз"},
    "times_few": {"en": "{n} times", "uk": "{n} рази"},
    "times_many": {"en": "{n} times", "uk": "{n} разів"},
    "and": {"en": " and ", "uk": " і "},
    "ago_today": {"en": "today", "uk": "сьогодні"},
    "ago_yesterday": {"en": "yesterday", "uk": "вчора"},
    "ago_days_few": {"en": "{n} days ago", "uk": "{n} дні тому"},
    "ago_days_many": {"en": "{n} days ago", "uk": "{n} днів тому"},
    "ago_days_one": {"en": "{n} days ago", "uk": "{n} день тому"},
    "ago_date": {"en": "on {date}", "uk": "{date}"},
    # --- edited messages -----------------------------------------------------------------------
    "edit_lookup_stands": {
        "en": "You edited a message I already answered (lookup #{id}). An edit does not change "
        "a lookup: send the photo again as a new message to search again.",
        "uk": "Ви змінили повідомлення, на яке я вже відповів (пошук №{id}). Зміна не змінює "
        "пошук: щоб шукати знову, надішліть фото ще раз новим повідомленням.",
    },
    "edit_enroll_stands": {
        "en": "You edited an /enroll caption. Enrollment follows the caption it was sent with: "
        "what was enrolled stands. To correct it, /forget the identity and enroll the photo "
        "again in a new message.",
        "uk": "Ви змінили підпис /enroll. Внесення виконується за підписом, з яким фото "
        "надіслано: внесене лишається. Щоб виправити, виконайте /forget для особи й внесіть "
        "фото знову новим повідомленням.",
    },
    "edit_command": {
        "en": "Edited commands are not run again: send the command again as a new message.",
        "uk": "Змінені команди не виконуються знову: надішліть команду ще раз новим повідомленням.",
    },
    "edit_other": {
        "en": "Edits are not read: send a new message instead.",
        "uk": "Зміни повідомлень не читаються: надішліть нове повідомлення.",
    },
    # --- albums enrolled -----------------------------------------------------------------------
    "album_enroll_done": {
        "en": "Album: {ok} of {n} photos enrolled for {name}{ref} (identity #{identity_id}).",
        "uk": "Альбом: внесено {ok} з {n} фото для {name}{ref} (особа №{identity_id}).",
    },
    "album_enroll_none": {
        "en": "Album: none of its {n} photos could be enrolled.",
        "uk": "Альбом: жодне з {n} фото не вдалося внести.",
    },
    "album_enroll_photo": {"en": "Photo {n}: {problem}", "uk": "Фото {n}: {problem}"},
    "album_enroll_already": {
        "en": "already enrolled for this identity",
        "uk": "вже внесене для цієї особи",
    },
    # --- watchlists ----------------------------------------------------------------------------
    "watch_usage": {
        "en": "Usage: /watch ID [until=YYYY-MM-DD] [to=ID,ID] [strong] reason\n"
        "strong: alert on strong matches only; to: the admins to alert (default: every admin).",
        "uk": "Використання: /watch ID [until=РРРР-ММ-ДД] [to=ID,ID] [strong] причина\n"
        "strong: сповіщати лише про сильні збіги; to: кого сповіщати (типово: усіх "
        "адміністраторів).",
    },
    "field_reason": {"en": "The reason", "uk": "Причина"},
    "watch_added": {
        "en": "👁 {name} (identity #{identity_id}) is watched: {reason}.\nAlerts go to {who}, "
        "for {bands}; {until}.",
        "uk": "👁 За {name} (особа №{identity_id}) стежимо: {reason}.\nСповіщення отримують: "
        "{who}, про {bands}; {until}.",
    },
    "watch_every_admin": {"en": "every admin", "uk": "усі адміністратори"},
    "watch_bands_all": {
        "en": "strong and possible matches",
        "uk": "сильні та можливі збіги",
    },
    "watch_bands_strong": {"en": "strong matches only", "uk": "лише сильні збіги"},
    "watch_until": {"en": "until {date}", "uk": "до {date}"},
    "watch_no_expiry": {"en": "until removed", "uk": "доки не скасують"},
    "watch_already": {
        "en": "Identity #{identity_id} is watched already. /unwatch it first to change the entry.",
        "uk": "За особою №{identity_id} вже стежимо. Щоб змінити, спершу /unwatch.",
    },
    "watch_not_admins": {
        "en": "Alerts go to approved admins only; not admins: {ids}.",
        "uk": "Сповіщення отримують лише адміністратори; не адміністратори: {ids}.",
    },
    "watch_past": {
        "en": "The expiry date is in the past.",
        "uk": "Дата завершення вже минула.",
    },
    "unwatch_usage": {
        "en": "Usage: /unwatch ID [reason]",
        "uk": "Використання: /unwatch ID [причина]",
    },
    "unwatch_done": {
        "en": "{name} (identity #{identity_id}) is no longer watched.",
        "uk": "За {name} (особа №{identity_id}) більше не стежимо.",
    },
    "unwatch_none": {
        "en": "Identity #{identity_id} is not watched.",
        "uk": "За особою №{identity_id} не стежимо.",
    },
    "watchlist_empty": {"en": "Nobody is watched.", "uk": "Ні за ким не стежимо."},
    "watchlist_header": {"en": "Watched identities:", "uk": "Особи під стеженням:"},
    "watchlist_line": {
        "en": "#{identity_id} {name} · {reason} · {bands} · {until} · by {by}",
        "uk": "№{identity_id} {name} · {reason} · {bands} · {until} · {by}",
    },
    "alert": {
        "en": "🔔 Watched: {name}{ref} is a candidate ({band}, similarity {pct}%) in lookup "
        "#{lookup_id} by {who}, {when}.\nWatched because: {reason}.\n{rate}"
        "Left: the face in their photo. Right: reference face #{face_id}. A candidate to verify, "
        "not an identification.",
        "uk": "🔔 Під стеженням: {name}{ref} — кандидат ({band}, схожість {pct}%) у пошуку "
        "№{lookup_id}, {who}, {when}.\nПричина стеження: {reason}.\n{rate}"
        "Ліворуч: обличчя з їхнього фото. Праворуч: еталонне обличчя №{face_id}. Кандидат для "
        "перевірки, а не встановлена особа.",
    },
    "alert_no_picture": {
        "en": "(The face's picture was removed under the retention policy.)",
        "uk": "(Зображення обличчя видалено згідно з політикою зберігання.)",
    },
    "alert_count": {
        "en": "🔔 {name}: {count} more lookups gave this watched identity as a candidate after "
        "the alert about lookup #{lookup_id}: {lookups}.",
        "uk": "🔔 {name}: ще {count} пошуків дали цю особу під стеженням як кандидата після "
        "сповіщення про пошук №{lookup_id}: {lookups}.",
    },
    "btn_open_lookup": {"en": "Open lookup #{id}", "uk": "Відкрити пошук №{id}"},
    "btn_console": {"en": "In the console", "uk": "У консолі"},
    # --- unknown persons -----------------------------------------------------------------------
    "unknown_usage": {
        "en": "Usage: /unknown, /unknown N, /unknown N name Name | ref, /unknown N dismiss",
        "uk": "Використання: /unknown, /unknown N, /unknown N name Ім'я | посилання, "
        "/unknown N dismiss",
    },
    "unknown_empty": {
        "en": "No unknown person has been photographed more than once.",
        "uk": "Жодну невідому особу не фотографували більше одного разу.",
    },
    "unknown_header": {
        "en": "Unknown persons (faces photographed more than once, not named), last seen first:",
        "uk": "Невідомі особи (обличчя, сфотографовані кілька разів, без імені), від останніх:",
    },
    "unknown_line": {
        "en": "#{id} · {n} sightings · first {first} · last {last}",
        "uk": "№{id} · {n} фото · перше {first} · останнє {last}",
    },
    "unknown_card": {
        "en": "Unknown person #{id}: {n} sightings, {first} to {last}.\n"
        "Name it: /unknown {id} name Name | ref. A wrong grouping: /unknown {id} dismiss.",
        "uk": "Невідома особа №{id}: {n} фото, з {first} до {last}.\n"
        "Назвати: /unknown {id} name Ім'я | посилання. Хибне групування: /unknown {id} dismiss.",
    },
    "unknown_sighting": {
        "en": "Sighting {n} · {date} · {who} · lookup #{lookup_id}",
        "uk": "Фото {n} · {date} · {who} · пошук №{lookup_id}",
    },
    "unknown_not_open": {
        "en": "No open unknown person #{id}.",
        "uk": "Немає відкритої невідомої особи №{id}.",
    },
    "unknown_named": {
        "en": "Unknown person #{id} is now {name}{ref} (identity #{identity_id}), its best "
        "sightings as references.",
        "uk": "Невідома особа №{id} тепер {name}{ref} (особа №{identity_id}), її найкращі фото — "
        "еталони.",
    },
    "unknown_dismissed": {
        "en": "Unknown person #{id} dismissed: its sightings will not be grouped together again.",
        "uk": "Невідому особу №{id} розформовано: її фото більше не групуватимуться разом.",
    },
    "btn_dismiss": {"en": "Dismiss the grouping", "uk": "Розформувати групу"},
}
