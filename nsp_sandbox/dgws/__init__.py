"""DGWS 1.0.1 security for SOAP faces: SOSI ID cards and their enveloped signatures, the
``wsse:Security`` check, ``medcom:Header``, the HSUID header and DGWS faults (dds-nsp.md §1.3, §1.4)."""
