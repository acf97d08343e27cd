"""电子证照: electronic licences issued from the platform's licence base (fed by the departments' registers),
a holder's wallet (卡包), and showing a licence as a signed code anyone can verify (亮证)."""
