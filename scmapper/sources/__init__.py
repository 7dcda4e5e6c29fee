"""Source records as systems publish them: files and their envelopes (`records`), several inputs
joined into one record per person with lookup tables (`inputs`), and the sample files a mapping
names (`samples`).

Never runs SQL, never writes.
"""
