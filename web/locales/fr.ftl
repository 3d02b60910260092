# Les pages de badge, de vérification et de retrait de Cairn : tous leurs textes
# (web/src/page/). Mêmes identifiants que en.ftl.

## Les deux pages

site-title = Vérification d'un titre
lang-switch-label = Langue
lang-name-en = English
lang-name-fr = Français
footer-how = Cette page vérifie le titre dans votre navigateur, d'après les registres publics de la chaîne et non d'après le site de l'émetteur : elle répond de même si ce site se trompe ou a disparu.
page-error-heading = Cette page ne peut pas être affichée
page-error = Ses données manquent ou sont abîmées. Redemandez le lien à qui vous l'a donné.

## Ce que dit le titre

credential-untitled = Titre sans nom
badge-image-alt = Badge : { $name }
badge-image-none = Pas d'image de badge
issuer-logo-alt = Logo de { $issuer }
awarded-to = Décerné à
issued-by = Émis par
issued-on = Émis le
expires-on = Expire le
expired-on = Expiré le
achievement-heading = À propos de ce titre
criteria-heading = Comment l'obtenir
criteria-link = Lire les critères complets

## Types de réalisation d'Open Badges 3.0

achievement-type-Achievement = Réalisation
achievement-type-ApprenticeshipCertificate = Certificat d'apprentissage
achievement-type-Assessment = Évaluation
achievement-type-Assignment = Travail noté
achievement-type-AssociateDegree = Diplôme de premier cycle court
achievement-type-Award = Prix
achievement-type-Badge = Badge
achievement-type-BachelorDegree = Licence (bachelor)
achievement-type-Certificate = Certificat
achievement-type-CertificateOfCompletion = Attestation de réussite
achievement-type-Certification = Certification
achievement-type-CommunityService = Engagement bénévole
achievement-type-Competency = Compétence
achievement-type-Course = Cours
achievement-type-CoCurricular = Activité parascolaire
achievement-type-Degree = Grade universitaire
achievement-type-Diploma = Diplôme
achievement-type-DoctoralDegree = Doctorat
achievement-type-Fieldwork = Travail de terrain
achievement-type-GeneralEducationDevelopment = Équivalence d'études secondaires (GED)
achievement-type-JourneymanCertificate = Certificat de compagnon
achievement-type-LearningProgram = Programme de formation
achievement-type-License = Permis d'exercice
achievement-type-Membership = Adhésion
achievement-type-ProfessionalDoctorate = Doctorat professionnel
achievement-type-QualityAssuranceCredential = Accréditation qualité
achievement-type-MasterCertificate = Certificat de maîtrise
achievement-type-MasterDegree = Master
achievement-type-MicroCredential = Microcertification
achievement-type-ResearchDoctorate = Doctorat de recherche
achievement-type-SecondarySchoolDiploma = Diplôme d'études secondaires

## Le panneau de vérification

verification-heading = Vérification
verdict-pending = Vérification en cours…
verdict-pending-detail = Vérification de la signature de l'émetteur et des registres de la chaîne, dans votre navigateur.
verdict-valid = Vérifié
verdict-valid-detail = Signé par son émetteur, enregistré sur la chaîne, ni révoqué ni expiré.
verdict-valid-unanchored-detail = Signé par son émetteur, ni révoqué ni expiré ; pas enregistré sur la chaîne.
verdict-invalid = Non valide
verdict-invalid-detail = Au moins une vérification a échoué : ne vous fiez pas à ce titre.
verdict-revoked = Révoqué par son émetteur
verdict-revoked-detail = L'émetteur a retiré ce titre : il n'est plus valide.
verdict-suspended = Suspendu par son émetteur
verdict-suspended-detail = L'émetteur a suspendu ce titre : il n'est pas valide tant qu'il est suspendu.
verdict-expired = Expiré le { $date }
verdict-expired-undated = Expiré
verdict-expired-detail = Il a bien été émis, mais sa période de validité est terminée.
verdict-unknown = Vérification impossible
verdict-unknown-detail = Certaines vérifications n'ont pas pu être faites : cette page ne peut pas dire si le titre est valide. Réessayez plus tard.
verify-error = La vérification n'a pas pu aboutir :
insecure-context = Cette page doit être servie en https pour vérifier des titres : en http simple, votre navigateur refuse la cryptographie dont les vérifications ont besoin. Ouvrez plutôt l'adresse https de la page.
dev-chain-title = Démonstration seulement.
dev-chain-notice = Ce titre est ancré sur la chaîne de développement de l'émetteur, qui tourne dans son propre serveur : ses registres ne prouvent rien à personne d'autre.
dev-chain-notice-verify = La chaîne que cette page consulte est la chaîne de développement de l'émetteur, qui tourne dans son propre serveur : ce qu'elle enregistre ne prouve rien à personne d'autre.
anchored-at = Enregistré sur la chaîne depuis le { $date } : le titre existait alors, preuve à l'appui.
anchored-at-none = Pas enregistré sur la chaîne : la date d'émission ne peut pas être prouvée.
warnings-heading = Avertissements
checks-heading = Les vérifications
checked-where =
    { $count ->
        [one] Vérifié dans ce navigateur auprès d'un nœud de la chaîne, sans aucune aide de l'émetteur.
       *[other] Vérifié dans ce navigateur auprès de { $count } nœuds de la chaîne, qui doivent concorder, sans aucune aide de l'émetteur.
    }
checked-where-none = Vérifié dans ce navigateur. Aucun nœud de chaîne n'est configuré : les registres de la chaîne n'ont pas pu être lus.

## Les vérifications, par nom (ceux de `cairn verify`)

check-json = JSON lisible
check-data-model = Règles des Verifiable Credentials du W3C
check-open-badges = Règles d'Open Badges 3.0
check-contexts = Vocabulaires connus
check-signature = Signature
check-issuer-key = Clé propre de l'émetteur
check-proof-purpose = Objet de la signature
check-validity = Période de validité
check-inclusion = Inclusion dans un lot enregistré
check-binding = Compte de l'émetteur sur la chaîne
check-anchor = Enregistrement sur la chaîne
check-revocation = Révocation et suspension
check-embedded-credentials = Chaque attestation contenue dans ce relevé
status-pass = réussie
status-fail = échouée
status-could-not-check = impossible à vérifier
status-absent = sans objet

## Recommandations

endorsements-heading = Recommandations
endorsement-valid = Vérifiée
endorsement-invalid = Non valide
endorsement-revoked = Révoquée
endorsement-suspended = Suspendue
endorsement-expired = Expirée
endorsement-unknown = Non vérifiée

## Téléchargements

downloads-heading = Télécharger
download-png = Image du badge (PNG)
download-png-hint = Le titre est intégré à l'image : elle se vérifie seule.
download-svg = Image du badge (SVG)
download-svg-hint = Le titre est intégré à l'image : elle se vérifie seule.
download-json = Titre (JSON)
download-json-hint = Pour les portefeuilles numériques et les vérificateurs.
download-bundle = Dossier de preuve (JSON)
download-bundle-hint = Le titre avec sa preuve sur la chaîne, pour vérifier sans réseau.

## Partage

share-heading = Partager
share-linkedin = Ajouter au profil LinkedIn
share-link-label = Lien vers cette page
share-copy = Copier le lien
share-copied = Lien copié.
share-copy-manually = Appuyez sur Ctrl+C (⌘C sur Mac) pour copier le lien sélectionné.
share-qr-label = Code QR du lien vers cette page
share-qr-download = Télécharger le code QR (SVG)

## La page de vérification

verify-title = Vérifier un titre
verify-heading = Vérifier un titre
verify-intro = Vérifiez un badge ou un titre numérique que l'on vous a remis : sa signature, la clé de l'émetteur, son enregistrement sur la chaîne, et s'il a été révoqué ou a expiré.
verify-private-title = Rien n'est envoyé.
verify-private = Le fichier est lu et vérifié dans ce navigateur seulement ; seuls les registres publics de la chaîne sont lus sur le réseau.
drop-title = Déposez un fichier de titre ici
file-choose = Choisir un fichier
drop-formats = Un titre (JSON), une image de badge avec son titre intégré (PNG ou SVG), un dossier de preuve, ou un relevé d'apprentissage complet (CLR).
verify-file = Fichier : { $name }
verify-file-too-large = Ce fichier est trop gros pour être un titre.
verify-read-error = Aucun titre n'a pu être lu dans ce fichier
verify-no-credential = Le fichier ne contient aucun titre.

## La page de retrait

claim-title = Ajouter { $name } à votre portefeuille
claim-heading = Ajoutez ce badge à votre portefeuille
claim-intro = Votre badge est prêt. Gardez-le dans un portefeuille numérique sur votre téléphone : vous l'aurez toujours avec vous et pourrez le montrer quand vous voudrez. Choisissez votre portefeuille ci-dessous.
claim-until = Ce lien ne peut servir qu'une fois, jusqu'au { $date }.
claim-lcw-heading = Learner Credential Wallet
claim-lcw-help = Scannez ce code avec l'application Learner Credential Wallet, ou ouvrez le lien sur le téléphone où elle est installée.
claim-lcw-qr-alt = Code QR pour ajouter ce badge au Learner Credential Wallet
claim-lcw-open = Ouvrir dans Learner Credential Wallet
claim-oid4vci-heading = Autres portefeuilles (OpenID4VCI)
claim-oid4vci-help = Scannez ce code avec un portefeuille compatible avec OpenID for Verifiable Credential Issuance (OpenID4VCI), ou ouvrez le lien sur l'appareil où votre portefeuille est installé.
claim-oid4vci-qr-alt = Code QR de l'offre de titre, pour les portefeuilles OpenID4VCI
claim-oid4vci-open = Ouvrir dans le portefeuille
claim-tx-code = Si l'émetteur vous a donné à part un code de transaction (code PIN), votre portefeuille vous le demandera.
claim-claimed = Ce badge a déjà été ajouté à un portefeuille, et ce lien ne peut plus servir. S'il vous le faut dans un portefeuille, demandez un nouveau lien à l'émetteur.
claim-expired = Ce lien a expiré le { $date }. Demandez un nouveau lien à l'émetteur.
claim-expired-undated = Ce lien a expiré. Demandez un nouveau lien à l'émetteur.
claim-locked = Ce lien est bloqué : un code de transaction erroné a été saisi trop de fois. Demandez un nouveau lien à l'émetteur.
claim-withdrawn = L'émetteur a révoqué ou suspendu ce badge : il ne peut pas être ajouté à un portefeuille. Contactez l'émetteur si vous pensez qu'il s'agit d'une erreur.
claim-footer = Cette page n'est destinée qu'à vous : ne partagez pas son lien.
