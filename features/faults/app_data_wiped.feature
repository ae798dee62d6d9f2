@fault:app_data_wiped
Feature: The app's data is wiped
  Clearing the app's data (or reinstalling it) erases the SDK's store:
  payments stored and not yet forwarded are lost, by definition, and the
  invariant checker reports that loss (I1) — so a wipe with payments waiting
  is not something a passing scenario can show. What is expected, and shown
  here: after a wipe the app starts on an empty store, keeps working online
  and offline, and nothing already forwarded is charged again.

  Scenario: A wipe after the queue drained loses nothing and the app works again
    Given a rig with a Stripe Reader M2
    When the internet goes down
    And the customer pays 19.00 USD as "lamp"
    And the internet comes back
    Then "lamp" is forwarded within 5 minutes
    When the app data on the POS is wiped
    Then the history has a "offline.store.recovered" event with pending "0" within 1 minute
    When the internet goes down
    And the customer pays 21.00 USD as "rug"
    Then "rug" is stored offline
    When the internet comes back
    Then "rug" is forwarded within 5 minutes
    And the backend holds 1 charge for "lamp"

  Scenario: A smart reader whose data is wiped still takes payments online
    Given a rig with a BBPOS WisePOS E
    When the app data on the reader is wiped
    And the customer pays 19.00 USD as "lamp"
    Then "lamp" succeeds online
