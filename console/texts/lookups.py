"""The console's lookup pages, in English and Ukrainian: the history, its filters, one lookup."""

from facefind.scoring.bands import RARITY_ABOUT, RARITY_FEWER

# the face quality reasons recognition.quality gives, each with its words below (reason_*)
REASONS = frozenset({"small", "low_score", "blurry", "pose"})

LOOKUP_TEXTS: dict[str, dict[str, str]] = {
    # --- /lookups -------------------------------------------------------------------------
    "lookups_title": {"en": "Lookups", "uk": "Пошуки"},
    "lookups_empty": {"en": "No lookups match.", "uk": "Жодного пошуку за цими умовами."},
    "filter_officer": {"en": "Officer (Telegram id)", "uk": "Офіцер (id у Telegram)"},
    "filter_since": {"en": "From", "uk": "Від"},
    "filter_until": {"en": "To", "uk": "До"},
    "filter_identity": {"en": "Identity (id)", "uk": "Особа (id)"},
    "filter_band": {"en": "Result", "uk": "Результат"},
    "filter_status": {"en": "Status", "uk": "Стан"},
    "filter_feedback": {"en": "Feedback", "uk": "Відгук"},
    "filter_any": {"en": "any", "uk": "будь-який"},
    "filter_apply": {"en": "Show", "uk": "Показати"},
    "filter_clear": {"en": "Clear", "uk": "Скинути"},
    "filter_invalid": {
        "en": "Some filters were not understood and are left out: {names}.",
        "uk": "Деякі умови не зрозуміло, їх пропущено: {names}.",
    },
    "band_strong": {"en": "strong candidate", "uk": "сильний кандидат"},
    "band_possible": {"en": "possible candidate", "uk": "можливий кандидат"},
    "band_none": {"en": "no confident match", "uk": "немає впевненого збігу"},
    "status_pending": {"en": "waiting", "uk": "в черзі"},
    "status_replying": {"en": "replying", "uk": "надсилається"},
    "status_done": {"en": "done", "uk": "готово"},
    "status_no_face": {"en": "no face", "uk": "немає обличчя"},
    "status_error": {"en": "error", "uk": "помилка"},
    "status_undelivered": {"en": "undelivered", "uk": "не доставлено"},
    "feedback_confirmed": {"en": "confirmed", "uk": "підтверджено"},
    "feedback_rejected": {"en": "rejected", "uk": "відхилено"},
    "feedback_none": {"en": "no feedback", "uk": "без відгуку"},
    "col_when": {"en": "When (UTC)", "uk": "Коли (UTC)"},
    "col_officer": {"en": "Officer", "uk": "Офіцер"},
    "col_faces": {"en": "Faces", "uk": "Обличчя"},
    "col_result": {"en": "Candidates", "uk": "Кандидати"},
    "col_status": {"en": "Status", "uk": "Стан"},
    "face_purged": {"en": "purged", "uk": "видалено"},
    "face_number": {"en": "face #{n}", "uk": "обличчя №{n}"},
    "candidate_line": {
        "en": "Face {face}: {name}, {similarity}% ({band})",
        "uk": "Обличчя {face}: {name}, {similarity}% ({band})",
    },
    "identity_forgotten": {"en": "forgotten", "uk": "забуто"},
    "page_newest": {"en": "Newest", "uk": "Найновіші"},
    "page_newer": {"en": "← Newer", "uk": "← Новіші"},
    "page_older": {"en": "Older →", "uk": "Старіші →"},
    "cli_actor": {"en": "command line ({actor})", "uk": "командний рядок ({actor})"},
    # --- one lookup -----------------------------------------------------------------------
    "lookup_title": {"en": "Lookup #{id}", "uk": "Пошук №{id}"},
    "lookup_asked_by": {"en": "Asked by", "uk": "Хто шукав"},
    "lookup_when": {"en": "When (UTC)", "uk": "Коли (UTC)"},
    "lookup_status": {"en": "Status", "uk": "Стан"},
    "lookup_faces": {"en": "Faces found", "uk": "Знайдено облич"},
    "lookup_photo": {"en": "The photo, faces numbered", "uk": "Фото з пронумерованими обличчями"},
    "lookup_photo_purged": {
        "en": "The photo with numbered boxes was purged by retention.",
        "uk": "Фото з пронумерованими рамками видалено за строком зберігання.",
    },
    "lookup_face": {"en": "Face #{n}", "uk": "Обличчя №{n}"},
    "lookup_face_quality": {
        "en": "A poor view of this face ({reasons}): weaker evidence.",
        "uk": "Це обличчя видно погано ({reasons}): слабші докази.",
    },
    "lookup_no_match": {
        "en": "No confident match for this face.",
        "uk": "Для цього обличчя немає впевненого збігу.",
    },
    "lookup_candidate": {"en": "Candidate {rank} of {total}", "uk": "Кандидат {rank} з {total}"},
    "lookup_lead": {
        "en": "A lead, not a candidate for this face: it is the candidate of face #{other} (one "
        "person is not two faces of one photo)",
        "uk": "Підказка, а не кандидат для цього обличчя: це кандидат обличчя №{other} (одна "
        "людина не може бути двома обличчями одного фото)",
    },
    "lookup_similarity": {"en": "Similarity {pct}% — {band}", "uk": "Схожість {pct}% — {band}"},
    "lookup_verify": {
        "en": "A candidate to verify, not an identification.",
        "uk": "Кандидат для перевірки, а не встановлена особа.",
    },
    "lookup_ref": {"en": "Reference: {ref}", "uk": "Зовнішнє посилання: {ref}"},
    "lookup_query_face": {"en": "The face in the photo", "uk": "Обличчя на фото"},
    "lookup_reference_face": {"en": "Reference face #{n}", "uk": "Еталонне обличчя №{n}"},
    "lookup_feedback": {"en": "Feedback", "uk": "Відгук"},
    "lookup_low_quality_ref": {
        "en": "Matched through a low-quality reference photo (the only kind enrolled for this "
        "person): weaker evidence.",
        "uk": "Збіг з еталонним фото низької якості (іншого для цієї особи немає): слабші докази.",
    },
    "lookup_audit": {"en": "Audit rows of this lookup", "uk": "Записи аудиту цього пошуку"},
    "lookup_all_of_officer": {"en": "their lookups", "uk": "їхні пошуки"},
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
    "candidate_rate_unknown": {
        "en": "How rare this score is among people not enrolled is not known (no calibration).",
        "uk": "Наскільки рідкісна така схожість серед людей поза галереєю, невідомо (немає "
        "калібрування).",
    },
    "reason_small": {"en": "small face", "uk": "замале обличчя"},
    "reason_low_score": {"en": "unclear detection", "uk": "нечітке виявлення"},
    "reason_blurry": {"en": "blurry", "uk": "розмите"},
    "reason_pose": {"en": "turned away from the camera", "uk": "повернуте від камери"},
    "col_actor": {"en": "Who", "uk": "Хто"},
    "col_action": {"en": "Action", "uk": "Дія"},
    "col_target": {"en": "About", "uk": "Щодо"},
    "col_details": {"en": "Details", "uk": "Подробиці"},
}
