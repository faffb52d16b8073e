"""The Danish XDS metadata rules, one module per concern; :mod:`services.dds.metadata_rules` applies them.

* :mod:`~services.dds.metadata.findings`: rule groups, strictness, how findings become issues;
* :mod:`~services.dds.metadata.patient`: patient by CPR, sourcePatientInfo;
* :mod:`~services.dds.metadata.author`: author institution by SOR;
* :mod:`~services.dds.metadata.identifiers`: uniqueId, entryUUID;
* :mod:`~services.dds.metadata.times`: creationTime, submissionTime, service period;
* :mod:`~services.dds.metadata.codes`: coded attributes against the national value sets;
* :mod:`~services.dds.metadata.document_entry`, :mod:`~services.dds.metadata.submission_set`:
  the rules of each XDS object.
"""
