Feature: Offline totals kept per currency
  A counter that takes two currencies (USD and CAD, or EUR and GBP) stores
  payments of both while offline. The SDK keeps one total per currency: the
  app's limit on what it stores applies to each currency on its own, and
  what the POS reports it holds is never a sum across currencies.

  Scenario: A counter taking USD and CAD keeps its offline totals apart and forwards both
    Given a rig with a Stripe Reader M2
    And the offline maximum per payment is 500.00 CAD
    When the internet goes down
    And the customer pays 5.00 USD as "coffee"
    And the customer pays 12.00 CAD as "poutine"
    And the customer pays 3.00 CAD as "timbits"
    Then "coffee" is stored offline
    And "poutine" is stored offline
    And "timbits" is stored offline
    And the POS reports 3 stored payments
    And the POS reports 5.00 USD stored offline
    And the POS reports 15.00 CAD stored offline
    When the internet comes back
    Then "coffee" is forwarded within 5 minutes
    And "poutine" is forwarded within 5 minutes
    And "timbits" is forwarded within 5 minutes
    And the POS reports 0.00 CAD stored offline
    And the backend holds 1 charge for "poutine"

  Scenario: The app's limit on what it stores offline applies to each currency on its own
    Given a rig with a Stripe Reader M2
    And the offline maximum per payment is 500.00 EUR
    And the offline maximum per payment is 500.00 GBP
    And the app stores at most 20.00 EUR offline
    When the internet goes down
    And the customer pays 15.00 EUR as "lunch"
    And the customer pays 15.00 GBP as "tea"
    And the customer pays 10.00 EUR as "dessert"
    Then "lunch" is stored offline
    And "tea" is stored offline
    And "dessert" fails with OFFLINE_PAYMENTS_DATABASE_TOO_LARGE
    And the POS reports 15.00 EUR stored offline
    And the POS reports 15.00 GBP stored offline
