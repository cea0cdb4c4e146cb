"""What officers read about their photos, in English and Ukrainian: the reply to a lookup, its
candidates and leads, errors, and their history."""

from facefind.scoring.bands import RARITY_ABOUT, RARITY_FEWER

OFFICER_TEXTS: dict[str, dict[str, str]] = {
    # --- lookups -------------------------------------------------------------------------------
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
        "en": "This file is not an image or a clip I can read. Send a photo or a video, or a "
        "JPEG, PNG, WebP or HEIC file.",
        "uk": "Цей файл не є зображенням чи відео, яке я можу прочитати. Надішліть фото чи "
        "відео або файл JPEG, PNG, WebP чи HEIC.",
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
        "en": "This file is not a JPEG, PNG, WebP or HEIC image.",
        "uk": "Цей файл не є зображенням JPEG, PNG, WebP чи HEIC.",
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
    # --- history -------------------------------------------------------------------------------
    "history_empty": {"en": "No lookups yet.", "uk": "Пошуків ще немає."},
    "history_header": {"en": "Your last lookups:", "uk": "Ваші останні пошуки:"},
    "history_line": {
        "en": "#{id} · {date} · faces: {faces} · {top}",
        "uk": "№{id} · {date} · облич: {faces} · {top}",
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
}
