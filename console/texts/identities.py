"""The console's identity pages, in English and Ukrainian: the list, one identity, its actions
and what they answer."""

IDENTITY_TEXTS: dict[str, dict[str, str]] = {
    "nav_identities": {"en": "Identities", "uk": "Особи"},
    "home_identities": {
        "en": "The gallery: find a person, their reference faces, who looked them up; add a "
        "photo, rename, merge, forget.",
        "uk": "Галерея: знайти особу, її еталонні обличчя, хто її шукав; додати фото, "
        "перейменувати, об'єднати, видалити.",
    },
    "identities_title": {"en": "Identities", "uk": "Особи"},
    "identities_search": {"en": "Name or reference", "uk": "Ім'я або посилання"},
    "identities_forgotten": {"en": "forgotten ones too", "uk": "також видалені"},
    "identities_find": {"en": "Find", "uk": "Знайти"},
    "identities_empty": {"en": "No identity matches.", "uk": "Жодної особи за цими умовами."},
    "col_name": {"en": "Name", "uk": "Ім'я"},
    "col_ref": {"en": "Reference", "uk": "Посилання"},
    "col_refs": {"en": "Reference faces", "uk": "Еталонні обличчя"},
    "col_state": {"en": "State", "uk": "Стан"},
    "col_created": {"en": "Enrolled (UTC)", "uk": "Додано (UTC)"},
    "identity_state_active": {"en": "in use", "uk": "у галереї"},
    "identity_state_forgotten": {"en": "forgotten", "uk": "видалено"},
    "identity_state_erased": {"en": "erased", "uk": "стерто"},
    "identity_state_merged": {"en": "merged into #{into}", "uk": "об'єднано з №{into}"},
    "identity_title": {"en": "Identity #{id}", "uk": "Особа №{id}"},
    "identity_merged_into": {
        "en": "Its faces were merged into {name} (#{id}).",
        "uk": "Її обличчя об'єднано з {name} (№{id}).",
    },
    "identity_faces": {"en": "Reference faces", "uk": "Еталонні обличчя"},
    "identity_no_faces": {"en": "No reference face in use.", "uk": "Немає еталонних облич."},
    "identity_face_poor": {
        "en": "poor reference ({flags}): kept for want of a better one",
        "uk": "погане еталонне фото ({flags}): залишено, бо кращого немає",
    },
    "identity_face_no_picture": {"en": "no picture", "uk": "без зображення"},
    "identity_face_added": {"en": "face #{id}, {when}", "uk": "обличчя №{id}, {when}"},
    "identity_lookups": {
        "en": "Lookups that showed this identity",
        "uk": "Пошуки, що показали цю особу",
    },
    "identity_no_lookups": {"en": "None yet.", "uk": "Поки жодного."},
    "identity_all_lookups": {"en": "All of them, with filters", "uk": "Усі, з фільтрами"},
    "identity_add_photo": {"en": "Add a reference photo", "uk": "Додати еталонне фото"},
    "identity_photo": {"en": "Photo", "uk": "Фото"},
    "identity_face_number": {
        "en": "Face number (when the photo has several)",
        "uk": "Номер обличчя (коли на фото їх кілька)",
    },
    "identity_upload": {"en": "Add", "uk": "Додати"},
    "identity_edit": {"en": "Name and reference", "uk": "Ім'я та посилання"},
    "identity_save": {"en": "Save", "uk": "Зберегти"},
    "identity_merge": {"en": "Merge another identity into this one", "uk": "Приєднати іншу особу"},
    "identity_merge_help": {
        "en": "When two identities are one person: the other one's faces join this one, and "
        "lookups from now on name this one. The other is kept, forgotten, for the lookups that "
        "named it.",
        "uk": "Коли дві особи — одна людина: обличчя іншої переходять до цієї, і відтепер "
        "пошуки називають цю. Інша залишається (видаленою) для пошуків, що її називали.",
    },
    "identity_merge_source": {"en": "The other identity's id", "uk": "Номер іншої особи"},
    "identity_merge_button": {"en": "Merge", "uk": "Об'єднати"},
    "identity_forget": {"en": "Forget this identity", "uk": "Видалити цю особу"},
    "identity_forget_help": {
        "en": "It leaves every search at once; its faces are erased {when}.",
        "uk": "Вона одразу зникає з усіх пошуків; її обличчя буде стерто {when}.",
    },
    "identity_forget_now": {"en": "now", "uk": "одразу"},
    "identity_forget_later": {
        "en": "after {days} days (it can be restored until then)",
        "uk": "через {days} дн. (доти її можна відновити)",
    },
    "identity_forget_button": {"en": "Forget", "uk": "Видалити"},
    "identity_restore": {"en": "Restore", "uk": "Відновити"},
    "identity_restorable": {
        "en": "Forgotten; it can be restored until {until} UTC.",
        "uk": "Видалено; її можна відновити до {until} UTC.",
    },
    "page_older_identities": {"en": "Older →", "uk": "Старіші →"},
    # --- what the actions answer ---------------------------------------------------------
    "notice_photo_added": {"en": "The reference face was added.", "uk": "Еталонне обличчя додано."},
    "notice_photo_added_poor": {
        "en": "The reference face was added, flagged as poor (the identity has no better one).",
        "uk": "Еталонне обличчя додано з позначкою «погане» (кращого в особи немає).",
    },
    "notice_edited": {"en": "Saved.", "uk": "Збережено."},
    "notice_unchanged": {"en": "Nothing changed.", "uk": "Нічого не змінено."},
    "notice_merged": {
        "en": "Merged: the other identity's faces are this one's now.",
        "uk": "Об'єднано: обличчя іншої особи тепер належать цій.",
    },
    "notice_forgotten": {
        "en": "Forgotten: it is in no search now, and can be restored until the grace period ends.",
        "uk": "Видалено: її немає в пошуках; її можна відновити до кінця пільгового строку.",
    },
    "notice_erased": {
        "en": "Forgotten and erased: faces, pictures and name are gone.",
        "uk": "Видалено і стерто: обличчя, зображення та ім'я знищено.",
    },
    "notice_restored": {
        "en": "Restored: it is searched again.",
        "uk": "Відновлено: її знову шукають.",
    },
    "error_photo_missing": {"en": "Choose a photo to upload.", "uk": "Виберіть фото."},
    "error_identity_not_in_use": {
        "en": "This identity is not in use (forgotten or merged).",
        "uk": "Ця особа не в галереї (видалена або об'єднана).",
    },
    "error_enroll_no_face": {
        "en": "No face was found in the photo.",
        "uk": "На фото не знайдено обличчя.",
    },
    "error_enroll_ambiguous_faces": {
        "en": "The photo has several faces and none is clearly the one: give its number (1 is "
        "the largest face).",
        "uk": "На фото кілька облич, і жодне не є очевидно потрібним: вкажіть його номер (1 — "
        "найбільше обличчя).",
    },
    "error_enroll_face_index": {
        "en": "The photo has no face with that number.",
        "uk": "На фото немає обличчя з таким номером.",
    },
    "error_enroll_enroll_refused": {
        "en": "This face cannot serve as a reference (too small or in full profile).",
        "uk": "Це обличчя не може бути еталоном (замале або в профіль).",
    },
    "error_enroll_poor_reference": {
        "en": "A poor face (blurry, turned or small), and the identity has better ones: not added.",
        "uk": "Погане обличчя (розмите, повернуте або мале), а в особи є кращі: не додано.",
    },
    "error_enroll_already": {
        "en": "This photo is already enrolled for this identity.",
        "uk": "Це фото вже додано до цієї особи.",
    },
    "error_image_bad_image": {
        "en": "This file is not an image.",
        "uk": "Цей файл не є зображенням.",
    },
    "error_image_empty": {"en": "The file is empty.", "uk": "Файл порожній."},
    "error_image_too_large": {"en": "The image is too large.", "uk": "Зображення завелике."},
    "error_image_too_many_pixels": {
        "en": "The image has too many pixels.",
        "uk": "Зображення має забагато пікселів.",
    },
    "error_image_unsupported": {
        "en": "Not a photo format facefind reads (JPEG, PNG, WebP, HEIC).",
        "uk": "Формат не підтримується (JPEG, PNG, WebP, HEIC).",
    },
    "error_image_corrupt": {"en": "The image is damaged.", "uk": "Зображення пошкоджене."},
    "error_image_too_long": {"en": "The clip is too long.", "uk": "Відео задовге."},
    "error_image_too_many_frames": {
        "en": "The clip has too many frames.",
        "uk": "У відео забагато кадрів.",
    },
    "error_bad_empty": {"en": "The name cannot be empty.", "uk": "Ім'я не може бути порожнім."},
    "error_bad_too_long": {
        "en": "The name or reference is too long.",
        "uk": "Ім'я або посилання задовге.",
    },
    "error_merge_which": {
        "en": "Give the id of the identity to merge into this one.",
        "uk": "Вкажіть номер особи, яку треба приєднати.",
    },
    "error_merge_refused": {
        "en": "Not merged: both identities must be in use, and not the same one.",
        "uk": "Не об'єднано: обидві особи мають бути в галереї й різними.",
    },
    "error_confirm": {"en": "Tick “I am sure” first.", "uk": "Спершу позначте «Я впевнений(-а)»."},
    "error_restore_missing": {"en": "No such identity.", "uk": "Такої особи немає."},
    "error_restore_not_forgotten": {"en": "It is not forgotten.", "uk": "Вона не видалена."},
    "error_restore_erased": {"en": "It was erased for good.", "uk": "Її остаточно стерто."},
    "error_restore_merged": {
        "en": "It was merged into another identity: nothing to restore.",
        "uk": "Її об'єднано з іншою особою: відновлювати нічого.",
    },
    "error_restore_too_late": {
        "en": "Its grace period is over: it can no longer be restored.",
        "uk": "Пільговий строк минув: її вже не можна відновити.",
    },
}
