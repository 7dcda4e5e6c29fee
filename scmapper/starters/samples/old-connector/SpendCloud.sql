-- An old connector database as its 2.0.2 scripts wrote it (the field mapping of 2.0.0-2.0.2:
-- the prefix appended to achternaam; functiecode from Title.Code); a retried create left a
-- second row for 100900. For the walkthrough in docs/implementers.md: on a real agent server,
-- take the connector's own SpendCloud.db instead.
CREATE TABLE "persons" ("externalId" TEXT, "achternaam" TEXT, "voornaam" TEXT, "tussenvoegsel" TEXT, "gebruikersnaam" TEXT, "geslacht" TEXT, "email" TEXT, "createtime" TEXT);
INSERT INTO "persons" VALUES('100920','Vries - van den Berg de','Ria','de','rvries','V','ria.devries@gemeente-voorbeeld.nl','2024-10-01 09:00:00');
INSERT INTO "persons" VALUES('100900','Boele van den','Bram','van den','bboele','M','bram.vandenboele@gemeente-voorbeeld.nl','2024-10-02 09:00:00');
INSERT INTO "persons" VALUES('100801','Jansen','Jan','','jjansen','M','jan.jansen@gemeente-voorbeeld.nl','2024-10-03 09:00:00');
INSERT INTO "persons" VALUES('100950','Smit','Kees','','ksmit','M','kees.smit@gemeente-voorbeeld.nl','2024-10-04 09:00:00');
INSERT INTO "persons" VALUES('100900','Boele van den','Bram','van den','bboele','M','bram.vandenboele@gemeente-voorbeeld.nl','2024-10-05 09:00:00');
CREATE TABLE "roles" ("gebruikersnaam" TEXT, "ou" TEXT, "functie" TEXT, "oucode" TEXT, "functiecode" TEXT, "createtime" TEXT);
INSERT INTO "roles" VALUES('rvries','Personeel & Organisatie','HR-adviseur','OE-PO','HR3','2024-10-01 09:00:00');
INSERT INTO "roles" VALUES('bboele','Financiën','Controller','OE-FIN','FIN1','2024-10-02 09:00:00');
INSERT INTO "roles" VALUES('jjansen','Sociale Zaken; Werk & Inkomen','Consulent','OE-SZW','SZW4','2024-10-03 09:00:00');
INSERT INTO "roles" VALUES('ksmit','Inkoop & Aanbesteding','Inkoper','OE-INK','INK2','2024-10-04 09:00:00');
INSERT INTO "roles" VALUES('bboele','Financiën','Controller','OE-FIN','FIN1','2024-10-05 09:00:00');
