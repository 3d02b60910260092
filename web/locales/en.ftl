# Cairn's badge, verify and claim pages: every text they show (web/src/page/).
# fr.ftl has the same message ids.

## Both pages

site-title = Credential check
lang-switch-label = Language
lang-name-en = English
lang-name-fr = Français
footer-how = This page checks the credential in your browser against the public records of the chain, not against the issuer's website: it gives the same answer if that website is wrong or gone.
page-error-heading = This page cannot be shown
page-error = Its data is missing or damaged. Ask whoever gave you the link for it again.

## What the credential says

credential-untitled = Untitled credential
badge-image-alt = Badge: { $name }
badge-image-none = No badge image
issuer-logo-alt = { $issuer } logo
awarded-to = Awarded to
issued-by = Issued by
issued-on = Issued
expires-on = Expires
expired-on = Expired
achievement-heading = About this achievement
criteria-heading = How it is earned
criteria-link = Read the full criteria

## Open Badges 3.0 achievement types

achievement-type-Achievement = Achievement
achievement-type-ApprenticeshipCertificate = Apprenticeship certificate
achievement-type-Assessment = Assessment
achievement-type-Assignment = Assignment
achievement-type-AssociateDegree = Associate degree
achievement-type-Award = Award
achievement-type-Badge = Badge
achievement-type-BachelorDegree = Bachelor's degree
achievement-type-Certificate = Certificate
achievement-type-CertificateOfCompletion = Certificate of completion
achievement-type-Certification = Certification
achievement-type-CommunityService = Community service
achievement-type-Competency = Competency
achievement-type-Course = Course
achievement-type-CoCurricular = Co-curricular activity
achievement-type-Degree = Degree
achievement-type-Diploma = Diploma
achievement-type-DoctoralDegree = Doctoral degree
achievement-type-Fieldwork = Fieldwork
achievement-type-GeneralEducationDevelopment = General Educational Development (GED)
achievement-type-JourneymanCertificate = Journeyman certificate
achievement-type-LearningProgram = Learning program
achievement-type-License = License
achievement-type-Membership = Membership
achievement-type-ProfessionalDoctorate = Professional doctorate
achievement-type-QualityAssuranceCredential = Quality assurance credential
achievement-type-MasterCertificate = Master certificate
achievement-type-MasterDegree = Master's degree
achievement-type-MicroCredential = Micro-credential
achievement-type-ResearchDoctorate = Research doctorate
achievement-type-SecondarySchoolDiploma = Secondary school diploma

## The verification panel

verification-heading = Verification
verdict-pending = Checking…
verdict-pending-detail = Checking the issuer's signature and the chain's records, in your browser.
verdict-valid = Verified
verdict-valid-detail = Signed by its issuer, on record on the chain, neither revoked nor expired.
verdict-valid-unanchored-detail = Signed by its issuer, neither revoked nor expired; not on record on the chain.
verdict-invalid = Not valid
verdict-invalid-detail = At least one check failed: do not rely on this credential.
verdict-revoked = Revoked by its issuer
verdict-revoked-detail = The issuer has withdrawn this credential: it is no longer valid.
verdict-suspended = Suspended by its issuer
verdict-suspended-detail = The issuer has suspended this credential: it is not valid while suspended.
verdict-expired = Expired on { $date }
verdict-expired-undated = Expired
verdict-expired-detail = It was genuinely issued, but its period of validity has ended.
verdict-unknown = Could not be verified
verdict-unknown-detail = Some checks could not be made, so this page cannot say whether the credential is valid. Try again later.
verify-error = The verification could not be completed:
insecure-context = This page must be served over https to verify credentials: over plain http your browser withholds the cryptography the checks need. Open the page's https address instead.
dev-chain-title = Demonstration only.
dev-chain-notice = This credential is anchored on the issuer's own development chain, which runs inside the issuer's server: its records prove nothing to anyone else.
dev-chain-notice-verify = The chain this page checks against is the issuer's own development chain, which runs inside the issuer's server: what it records proves nothing to anyone else.
anchored-at = On record on the chain since { $date }: the credential provably existed then.
anchored-at-none = Not on record on the chain: when it was issued cannot be proved.
warnings-heading = Warnings
checks-heading = The checks
checked-where =
    { $count ->
        [one] Checked in this browser against one chain node, with no help from the issuer.
       *[other] Checked in this browser against { $count } chain nodes, which must agree, with no help from the issuer.
    }
checked-where-none = Checked in this browser. No chain node is configured, so the chain's records could not be read.

## The checks, by name (as `cairn verify` names them)

check-json = Readable JSON
check-data-model = W3C Verifiable Credentials rules
check-open-badges = Open Badges 3.0 rules
check-contexts = Known vocabularies
check-signature = Signature
check-issuer-key = The issuer's own key
check-proof-purpose = Purpose of the signature
check-validity = Period of validity
check-inclusion = Inclusion in a batch on record
check-binding = The issuer's chain account
check-anchor = Record on the chain
check-revocation = Revocation and suspension
check-embedded-credentials = Every credential inside this record
status-pass = passed
status-fail = failed
status-could-not-check = could not be checked
status-absent = not applicable

## Endorsements

endorsements-heading = Endorsements
endorsement-valid = Verified
endorsement-invalid = Not valid
endorsement-revoked = Revoked
endorsement-suspended = Suspended
endorsement-expired = Expired
endorsement-unknown = Not verified

## Downloads

downloads-heading = Download
download-png = Badge image (PNG)
download-png-hint = The credential is baked into the image: it can be verified on its own.
download-svg = Badge image (SVG)
download-svg-hint = The credential is baked into the image: it can be verified on its own.
download-json = Credential (JSON)
download-json-hint = For digital wallets and verifiers.
download-bundle = Proof bundle (JSON)
download-bundle-hint = The credential with its chain proof, for checks without a network.

## Sharing

share-heading = Share
share-linkedin = Add to LinkedIn profile
share-link-label = Link to this page
share-copy = Copy link
share-copied = Link copied.
share-copy-manually = Press Ctrl+C (⌘C on a Mac) to copy the selected link.
share-qr-label = QR code of the link to this page
share-qr-download = Download the QR code (SVG)

## The verify page

verify-title = Verify a credential
verify-heading = Verify a credential
verify-intro = Check a digital badge or credential you were given: its signature, the issuer's key, its record on the chain, and whether it was revoked or has expired.
verify-private-title = Nothing is uploaded.
verify-private = The file is read and checked in this browser only; only the chain's public records are read over the network.
drop-title = Drop a credential file here
file-choose = Choose a file
drop-formats = A credential (JSON), a badge image with its credential baked in (PNG or SVG), a proof bundle, or a Comprehensive Learner Record (CLR).
verify-file = File: { $name }
verify-file-too-large = This file is too large to be a credential.
verify-read-error = No credential could be read from this file
verify-no-credential = The file holds no credential.

## The claim page

claim-title = Add { $name } to your wallet
claim-heading = Add this badge to your wallet
claim-intro = Your badge is ready. Keep it in a digital wallet on your phone: you will have it with you and can show it whenever you like. Choose your wallet below.
claim-until = This link can be used once, until { $date }.
claim-lcw-heading = Learner Credential Wallet
claim-lcw-help = Scan this code with the Learner Credential Wallet app, or open the link on the phone where the app is installed.
claim-lcw-qr-alt = QR code to add this badge to the Learner Credential Wallet
claim-lcw-open = Open in Learner Credential Wallet
claim-oid4vci-heading = Other wallets (OpenID4VCI)
claim-oid4vci-help = Scan this code with a wallet that supports OpenID for Verifiable Credential Issuance (OpenID4VCI), or open the link on the device where your wallet is installed.
claim-oid4vci-qr-alt = QR code of the credential offer, for OpenID4VCI wallets
claim-oid4vci-open = Open in wallet
claim-tx-code = If the issuer gave you a transaction code (PIN) separately, your wallet will ask for it.
claim-claimed = This badge has already been added to a wallet, and this link cannot be used again. If you need it in a wallet, ask the issuer for a new link.
claim-expired = This link expired on { $date }. Ask the issuer for a new link.
claim-expired-undated = This link has expired. Ask the issuer for a new link.
claim-locked = This link is locked: a wrong transaction code was entered too many times. Ask the issuer for a new link.
claim-withdrawn = The issuer has revoked or suspended this badge: it cannot be added to a wallet. Contact the issuer if you think this is a mistake.
claim-footer = This page is meant for you alone: do not share its link.
