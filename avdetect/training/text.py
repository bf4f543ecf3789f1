"""Sentences for the text-to-speech fakes: fixed phrases plus seeded random recombinations."""

from __future__ import annotations

import numpy as np

SENTENCES = [
    "Please transfer the funds to the new account before the end of the day.",
    "I am calling from the head office about the invoice you sent last week.",
    "The meeting has been moved to Thursday afternoon at three o'clock.",
    "Could you confirm the payment details by replying to this message?",
    "We need to keep this acquisition confidential until the announcement.",
    "The weather forecast says it will rain heavily over the weekend.",
    "She walked slowly along the river, watching the boats drift by.",
    "My flight lands at seven, so I will call you when I get to the hotel.",
    "Our quarterly results were better than the analysts expected.",
    "He opened the old wooden door and found a letter on the floor.",
    "Remember to lock the office and switch off the lights when you leave.",
    "The committee will publish its report early next month.",
    "Thank you for your patience while we look into the problem.",
    "The children played in the garden until the sun went down.",
    "I can't talk long, I'm about to go into a board meeting.",
    "Your account has been suspended, please verify your identity.",
    "The train to the city centre leaves from platform number four.",
    "A warm cup of tea is the best way to start a cold morning.",
    "The minister said the new policy will create thousands of jobs.",
    "Send me the code you received by text message, it is urgent.",
    "History shows that great changes often begin with small steps.",
    "The museum opens at nine and closes at half past five.",
    "I think we should wait for the final figures before deciding.",
    "Every voter deserves accurate information about the candidates.",
    "The dog barked twice and then ran off into the dark forest.",
    "Can you hear me clearly, the line seems to be breaking up.",
    "We apologise for the delay and thank you for waiting.",
    "Four hundred and twenty seven people attended the conference.",
    "The price of the house was far higher than they had hoped.",
    "Please hold while I connect you to the finance department.",
]

_SUBJECTS = ["the manager", "my brother", "our client", "the bank", "a reporter", "the team",
             "your assistant", "the old farmer", "the president", "nobody"]
_VERBS = ["approved", "rejected", "forgot", "signed", "discussed", "moved", "found", "needs",
          "will review", "has cancelled"]
_OBJECTS = ["the contract", "a new budget", "the delivery", "every request", "the last payment",
            "that proposal", "the morning train", "the quarterly report", "the password",
            "a small house by the sea"]
_TAILS = ["yesterday", "this morning", "without telling anyone", "as soon as possible",
          "after lunch", "for the second time", "in the city", "before the deadline", "", "again"]


def sentences(n: int, seed: int) -> list[str]:
    """n sentences: the fixed list first (in a seeded order), then random recombinations."""
    rng = np.random.default_rng(seed)
    out = [SENTENCES[i] for i in rng.permutation(len(SENTENCES))][:n]
    while len(out) < n:
        parts = [rng.choice(p) for p in (_SUBJECTS, _VERBS, _OBJECTS, _TAILS)]
        out.append((" ".join(p for p in parts if p) + ".").capitalize())
    return out
