Feature: Test cards online and offline
  Each documented test card (docs/domain.md §6) gives the issuer's answer
  online. Offline, the SDK cannot ask the issuer: cards of a brand that may go
  offline are stored and the issuer answers when they are forwarded, so a
  declining card is "declined on sync". Some cards are refused offline with
  their own SDK error code (§2, §5).

  Scenario Outline: The <card> card is approved online
    Given a rig with a Stripe Reader M2
    When the customer pays 20.00 USD as "sale" with the "<card>" card
    Then "sale" succeeds online
    And the backend holds 1 charge for "sale"

    Examples:
      | card               |
      | visa               |
      | visa_debit         |
      | mastercard         |
      | mastercard_debit   |
      | mastercard_prepaid |
      | amex               |
      | discover           |
      | jcb                |
      | unionpay           |
      | interac            |
      | girocard           |

  Scenario Outline: The <card> card is declined online with <decline code>
    Given a rig with a Stripe Reader M2
    When the customer pays 20.00 USD as "sale" with the "<card>" card
    Then "sale" is declined online with <decline code>
    And the backend holds 0 charges for "sale"

    Examples:
      | card               | decline code       |
      | card_declined      | generic_decline    |
      | insufficient_funds | insufficient_funds |
      | lost_card          | lost_card          |
      | stolen_card        | stolen_card        |
      | expired_card       | expired_card       |
      | processing_error   | processing_error   |

  Scenario Outline: The <card> card is stored offline and charged when forwarded
    Given a rig with a Stripe Reader M2
    When the internet goes down
    And the customer pays 20.00 USD as "sale" with the "<card>" card
    Then "sale" is stored offline
    When the internet comes back
    Then "sale" is forwarded within 5 minutes
    And the charge for "sale" is marked as collected offline

    Examples:
      | card               |
      | visa               |
      | visa_debit         |
      | mastercard         |
      | mastercard_debit   |
      | mastercard_prepaid |
      | amex               |
      | discover           |
      | jcb                |
      | unionpay           |

  Scenario Outline: The <card> card is stored offline and declined on sync with <decline code>
    Given a rig with a Stripe Reader M2
    When the internet goes down
    And the customer pays 20.00 USD as "sale" with the "<card>" card
    Then "sale" is stored offline
    When the internet comes back
    Then "sale" is declined on sync with <decline code> within 5 minutes
    And the backend holds 0 charges for "sale"

    Examples:
      | card               | decline code       |
      | card_declined      | generic_decline    |
      | insufficient_funds | insufficient_funds |
      | lost_card          | lost_card          |
      | stolen_card        | stolen_card        |
      | processing_error   | processing_error   |

  Scenario Outline: The <card> card is refused offline with <code>
    Given a rig with a BBPOS WisePad 3
    When the internet goes down
    And the customer pays 20.00 USD as "sale" with the "<card>" card by inserting
    Then "sale" fails with <code>
    And the POS reports 0 stored payments

    Examples:
      | card                 | code                             |
      | interac              | INTERAC_NOT_SUPPORTED_OFFLINE    |
      | girocard             | OFFLINE_TRANSACTION_DECLINED     |
      | expired_card         | OFFLINE_AND_CARD_EXPIRED         |
      | online_pin_cvm       | ONLINE_PIN_NOT_SUPPORTED_OFFLINE |
      | online_pin_sca_retry | ONLINE_PIN_NOT_SUPPORTED_OFFLINE |
      | offline_pin_cvm      | OFFLINE_TRANSACTION_DECLINED     |
