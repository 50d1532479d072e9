"""Candidate-list presets: every classification prefix MedRegA was trained on (spec Appendix 1).

Each preset is stored as data (kind, modality, labels, closing note) and rebuilt by
``medrega_core.tasks.prompts``; the tests check that the rebuilt prefixes are byte-identical to
the training prefixes, quirks included (fundus datasets described as "OCT", "nevous", "drusens").
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum


class ClassificationKind(str, Enum):
    """What the candidate list names; fixes the task sentence and the list noun of the prefix."""

    DIAGNOSIS = "diagnoses"
    ORGAN = "organs"
    TISSUE = "tissues"


@dataclass(frozen=True)
class CandidatePreset:
    """One training dataset's candidate list.

    Attributes
    ----------
    key:
        Stable id, e.g. ``"oct2017"`` (the dataset name in ``meta_file.json`` without suffix).
    title:
        Dataset name for menus.
    modality:
        Modality phrase as the prefix writes it after the article ("OCT", "chest x-ray").
    labels:
        Candidates in training order.
    note:
        Sentence after the list (``"No finding" means ...``), or "" when the prefix has none.
    inline:
        The list is written in one sentence ("are normal and abnormal.") instead of one per line.
    """

    key: str
    title: str
    kind: ClassificationKind
    modality: str
    labels: tuple[str, ...]
    note: str = ""
    inline: bool = False


NO_FINDING_NOTE = '"No finding" means no diseases are detected.'
NORMAL_NOTE = '"normal" means no diseases are detected.'

_D, _O, _T = ClassificationKind.DIAGNOSIS, ClassificationKind.ORGAN, ClassificationKind.TISSUE

PRESETS: tuple[CandidatePreset, ...] = (
    CandidatePreset(
        "brset", "BRSET (fundus)", _D, "OCT",
        ("hypertensive retinopathy", "diabetic macular edema", "drusens", "increased cup disc ratio",
         "nondiabetic retinal hemorrhage", "vascular occlusion", "age-related macular degeneration", "other",
         "myopic fundus", "diabetic retinopathy", "retinal detachment", "scar", "nevus", "normal"),
        NORMAL_NOTE,
    ),
    CandidatePreset(
        "chexpert", "CheXpert (chest X-ray)", _D, "chest x-ray",
        ("Enlarged Cardiomediastinum", "Cardiomegaly", "Lung Opacity", "Lung Lesion", "Edema", "Consolidation",
         "Pneumonia", "Atelectasis", "Pneumothorax", "Pleural Effusion", "Pleural Other", "Fracture",
         "Support Devices", "No Finding"),
        NO_FINDING_NOTE,
    ),
    CandidatePreset(
        "cxr14", "ChestX-ray14", _D, "chest x-ray",
        ("Atelectasis", "Cardiomegaly", "Consolidation", "Edema", "Effusion", "Emphysema", "Fibrosis", "Hernia",
         "Infiltration", "Mass", "Nodule", "Pleural Thickening", "Pneumonia", "Pneumothorax", "Pneumoperitoneum",
         "Pneumomediastinum", "Subcutaneous Emphysema", "Tortuous Aorta", "Calcification of the Aorta",
         "No Finding"),
        NO_FINDING_NOTE,
    ),
    CandidatePreset("isic2016", "ISIC 2016 (dermoscopy)", _D, "dermoscopic", ("benign", "malignant")),
    CandidatePreset(
        "isic2017", "ISIC 2017 (dermoscopy)", _D, "dermoscopic", ("melanoma", "seborrheic keratosis", "nevous")
    ),
    CandidatePreset(
        "isic2018", "ISIC 2018 (dermoscopy)", _D, "dermoscopic",
        ("Melanoma", "Melanocytic nevus", "Basal cell carcinoma", "Bowen's disease", "Benign keratosis",
         "Dermatofibroma", "Vascular lesion"),
    ),
    CandidatePreset(
        "isic2019", "ISIC 2019 (dermoscopy)", _D, "dermoscopic",
        ("Melanoma", "Melanocytic nevus", "Basal cell carcinoma", "Actinic keratosis", "Benign keratosis",
         "Dermatofibroma", "Vascular lesion", "Squamous cell carcinoma"),
    ),
    CandidatePreset("isic2020", "ISIC 2020 (dermoscopy)", _D, "dermoscopic", ("benign", "melanoma")),
    CandidatePreset("mura", "MURA (musculoskeletal X-ray)", _D, "X-ray", ("normal", "abnormal"), inline=True),
    CandidatePreset(
        "oct2017", "OCT2017 (retinal OCT)", _D, "OCT",
        ("normal", "drusen", "diabetic macular edema", "choroidal neovascularization"),
    ),
    CandidatePreset(
        "octid", "OCTID (retinal OCT)", _D, "OCT",
        ("Normal", "Diabetic Retinopathy", "Macular Hole", "Central Serous Retinopathy"),
    ),
    CandidatePreset(
        "organmnist", "OrganMNIST (CT organs)", _O, "CT",
        ("bladder", "left femur", "right femur", "heart", "left kidney", "right kidney", "liver", "left lung",
         "right lung", "pancreas", "spleen"),
    ),
    CandidatePreset(
        "padufes", "PAD-UFES-20 (skin)", _D, "dermoscopic",
        ("Basal Cell Carcinoma", "Squamous Cell Carcinoma", "Actinic Keratosis", "Seborrheic Keratosis", "Melanoma",
         "Nevus"),
    ),
    CandidatePreset(
        "pannuke", "PanNuke (pathology tissues)", _T, "pathology",
        ("Breast", "Colon", "Bile duct", "Esophagus", "Uterus", "Lung", "Cervix", "Head or Neck", "Skin",
         "Adrenal gland", "Kidney", "Stomach", "Prostate", "Testis", "Liver", "Thyroid", "Pancreatic", "Ovarian",
         "Bladder"),
    ),
    CandidatePreset(
        "pathcrc", "Kather colon (pathology tissues)", _T, "pathology",
        ("adipose", "background", "debris", "lymphocytes", "mucus", "smooth muscle", "normal colon mucosa",
         "cancer-associated stroma", "colorectal adenocarcinoma epithelium"),
    ),
    CandidatePreset(
        "rfmid", "RFMiD (fundus)", _D, "OCT",
        ("Optic disc pallor", "Chorioretinitis", "Macular hole", "Laser scars", "Age-related macular degeneration",
         "Retinal pigment epithelium changes", "Retinitis pigmentosa", "Optic disc edema",
         "Anterior ischemic optic neuropathy", "Drusens", "Myopia", "Parafoveal telangiectasia", "Retinitis",
         "Exudation", "Tortuous vessels", "Asteroid hyalosis", "Epiretinal membrane", "Diabetic retinopathy",
         "Optic disc cupping", "Media Haze", "Tessellation", "Optociliary shunt", "Central serous retinopathy",
         "Branch retinal vein occlusion", "Central retinal vein occlusion", "Macular scar", "Retinal traction",
         "normal", "Other"),
        NORMAL_NOTE + ' "other" means diseases not included in the list are detected.',
    ),
    CandidatePreset(
        "vindrcxr", "VinDr-CXR (chest X-ray)", _D, "chest x-ray",
        ("Aortic enlargement", "Atelectasis", "Calcification", "Cardiomegaly", "Clavicle fracture", "Consolidation",
         "Edema", "Emphysema", "Enlarged PA", "ILD", "Infiltration", "Lung Opacity", "Lung cavity", "Lung cyst",
         "Mediastinal shift", "Nodule or Mass", "Pleural effusion", "Pleural thickening", "Pneumothorax",
         "Pulmonary fibrosis", "Rib fracture", "Other lesion", "COPD", "Lung tumor", "Pneumonia", "Tuberculosis",
         "Other diseases", "No finding"),
        NO_FINDING_NOTE,
    ),
    CandidatePreset(
        "vindrmammo", "VinDr-Mammo (mammography)", _D, "mammography",
        ("Suspicious Calcification", "Nipple Retraction", "Skin Retraction", "Architectural Distortion",
         "Global Asymmetry", "Focal Asymmetry", "Suspicious Lymph Node", "Asymmetry", "Mass", "Skin Thickening",
         "No Finding"),
        NO_FINDING_NOTE,
    ),
    CandidatePreset(
        "vindrpcxr", "VinDr-PCXR (paediatric chest X-ray)", _D, "chest x-ray",
        ("Bronchitis", "Brocho-pneumonia", "Bronchiolitis", "Situs inversus", "Pneumonia", "Pleuro-pneumonia",
         "Diagphramatic hernia", "Tuberculosis", "Congenital emphysema", "CPAM", "Hyaline membrane disease",
         "Mediastinal tumor", "Lung tumor", "Other disease", "No finding"),
        NO_FINDING_NOTE,
    ),
    CandidatePreset(
        "vindrspinexr", "VinDr-SpineXR (spine X-ray)", _D, "spine x-ray",
        ("Surgical implant", "Foraminal stenosis", "Vertebral collapse", "Disc space narrowing", "Osteophytes",
         "Spondylolysthesis", "Other lesions", "No finding"),
        NO_FINDING_NOTE,
    ),
)

PRESETS_BY_KEY: dict[str, CandidatePreset] = {preset.key: preset for preset in PRESETS}
