"""CTCAE v5.0 terms offered when an adverse event is recorded: the terms an autologous CAR T-cell
trial in lupus most often needs, each with its system organ class (MedDRA SOC as CTCAE lists it).
Free text is always kept beside the term; a term not listed here is recorded as free text only.

Source: Common Terminology Criteria for Adverse Events v5.0 (NCI, 27 November 2017).
"""

# (term, system organ class)
TERMS: tuple[tuple[str, str], ...] = (
    ("Anemia", "Blood and lymphatic system disorders"),
    ("Febrile neutropenia", "Blood and lymphatic system disorders"),
    ("Cytokine release syndrome", "Immune system disorders"),
    ("Allergic reaction", "Immune system disorders"),
    ("Anaphylaxis", "Immune system disorders"),
    ("Infusion related reaction", "General disorders and administration site conditions"),
    ("Fever", "General disorders and administration site conditions"),
    ("Fatigue", "General disorders and administration site conditions"),
    ("Chills", "General disorders and administration site conditions"),
    ("Edema limbs", "General disorders and administration site conditions"),
    ("Flu like symptoms", "General disorders and administration site conditions"),
    ("Pain", "General disorders and administration site conditions"),
    ("Death NOS", "General disorders and administration site conditions"),
    ("Headache", "Nervous system disorders"),
    ("Dizziness", "Nervous system disorders"),
    ("Encephalopathy", "Nervous system disorders"),
    ("Seizure", "Nervous system disorders"),
    ("Tremor", "Nervous system disorders"),
    ("Peripheral sensory neuropathy", "Nervous system disorders"),
    ("Confusion", "Psychiatric disorders"),
    ("Insomnia", "Psychiatric disorders"),
    ("Nausea", "Gastrointestinal disorders"),
    ("Vomiting", "Gastrointestinal disorders"),
    ("Diarrhea", "Gastrointestinal disorders"),
    ("Abdominal pain", "Gastrointestinal disorders"),
    ("Mucositis oral", "Gastrointestinal disorders"),
    ("Hypotension", "Vascular disorders"),
    ("Hypertension", "Vascular disorders"),
    ("Thromboembolic event", "Vascular disorders"),
    ("Sinus tachycardia", "Cardiac disorders"),
    ("Atrial fibrillation", "Cardiac disorders"),
    ("Hypoxia", "Respiratory, thoracic and mediastinal disorders"),
    ("Dyspnea", "Respiratory, thoracic and mediastinal disorders"),
    ("Cough", "Respiratory, thoracic and mediastinal disorders"),
    ("Pneumonitis", "Respiratory, thoracic and mediastinal disorders"),
    ("Rash maculo-papular", "Skin and subcutaneous tissue disorders"),
    ("Pruritus", "Skin and subcutaneous tissue disorders"),
    ("Alopecia", "Skin and subcutaneous tissue disorders"),
    ("Arthralgia", "Musculoskeletal and connective tissue disorders"),
    ("Myalgia", "Musculoskeletal and connective tissue disorders"),
    ("Back pain", "Musculoskeletal and connective tissue disorders"),
    ("Acute kidney injury", "Renal and urinary disorders"),
    ("Proteinuria", "Renal and urinary disorders"),
    ("Urinary tract infection", "Infections and infestations"),
    ("Upper respiratory infection", "Infections and infestations"),
    ("Lung infection", "Infections and infestations"),
    ("Sepsis", "Infections and infestations"),
    ("Herpes zoster", "Infections and infestations"),
    ("Catheter related infection", "Infections and infestations"),
    ("COVID-19", "Infections and infestations"),
    ("Neutrophil count decreased", "Investigations"),
    ("Lymphocyte count decreased", "Investigations"),
    ("Platelet count decreased", "Investigations"),
    ("White blood cell decreased", "Investigations"),
    ("Alanine aminotransferase increased", "Investigations"),
    ("Aspartate aminotransferase increased", "Investigations"),
    ("Blood bilirubin increased", "Investigations"),
    ("Creatinine increased", "Investigations"),
    ("Fibrinogen decreased", "Investigations"),
    ("Hypokalemia", "Metabolism and nutrition disorders"),
    ("Hyponatremia", "Metabolism and nutrition disorders"),
    ("Hypocalcemia", "Metabolism and nutrition disorders"),
    ("Hypophosphatemia", "Metabolism and nutrition disorders"),
    ("Anorexia", "Metabolism and nutrition disorders"),
    (
        "Pregnancy, puerperium and perinatal conditions - Other",
        "Pregnancy, puerperium and perinatal conditions",
    ),
)

TERM_NAMES = frozenset(term for term, _ in TERMS)
SOC_OF = dict(TERMS)


def term_choices() -> list[tuple[str, str]]:
    """For a select: "" (free text only) then every term, labelled with its organ class."""
    return [("", "— none (free text only) —")] + [(t, f"{t} ({soc})") for t, soc in TERMS]
